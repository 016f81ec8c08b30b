//! Statement validation: the JSON Schema in `schema/statement.schema.json` decides the
//! structure (types, required and unknown properties, objectType-dependent shapes, string
//! formats), then `rules` checks what a schema cannot say well (one IFI per Agent, score
//! ranges, interaction component lists, ...).
//!
//! Each xAPI version gets its own compiled validator, built once: the schema is the same, but
//! the `xapi-timestamp` and `xapi-version` formats and the `xapiSince` keyword behave
//! differently under 1.0.3 and 2.0.0. Valid input takes the fast path (`is_valid`, then the
//! rules); only invalid input pays for collecting and explaining errors.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, Keyword, Validator};
use serde_json::Value;

use crate::error::join_path;
use crate::rules::{self, Path};
use crate::{Timestamp, ValidationError, Version, is_valid_duration, is_valid_language_tag, syntax};

const STATEMENT_SCHEMA: &str = include_str!("../schema/statement.schema.json");

/// The compiled validators of one xAPI version.
struct Validators {
    statement: Validator,
    /// An Agent or Group on its own (the `agent` query parameter).
    actor: Validator,
}

fn validators(version: Version) -> &'static Validators {
    static V1_0: OnceLock<Validators> = OnceLock::new();
    static V2_0: OnceLock<Validators> = OnceLock::new();
    let cell = match version {
        Version::V1_0 => &V1_0,
        Version::V2_0 => &V2_0,
    };
    cell.get_or_init(|| build(version))
}

fn build(version: Version) -> Validators {
    // The schema is embedded and covered by tests; failing to compile it is a build defect.
    let schema: Value = serde_json::from_str(STATEMENT_SCHEMA).expect("statement.schema.json is JSON");
    let actor_schema = serde_json::json!({
        "$schema": schema["$schema"],
        "$defs": schema["$defs"],
        "$ref": "#/$defs/actor",
    });
    let compile = |schema: &Value| {
        options(version)
            .build(schema)
            .unwrap_or_else(|e| panic!("statement.schema.json does not compile: {e}"))
    };
    Validators { statement: compile(&schema), actor: compile(&actor_schema) }
}

fn options(version: Version) -> jsonschema::ValidationOptions<'static> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_format("xapi-iri", syntax::is_valid_iri)
        // An IRL is an IRI that is expected to resolve; the syntax is the same.
        .with_format("xapi-irl", syntax::is_valid_iri)
        .with_format("xapi-mailto-iri", syntax::is_valid_mailto_iri)
        .with_format("xapi-sha1-hex", syntax::is_sha1_hex)
        .with_format("xapi-sha2-hex", syntax::is_sha2_hex)
        .with_format("xapi-uuid", syntax::is_valid_uuid)
        .with_format("xapi-language-tag", is_valid_language_tag)
        .with_format("xapi-duration", is_valid_duration)
        .with_format("xapi-media-type", syntax::is_media_type)
        .with_format("xapi-timestamp", move |text| is_valid_timestamp(text, version))
        .with_format("xapi-version", move |text| syntax::is_accepted_statement_version(text, version))
        .with_keyword("xapiSince", move |_, since, _| {
            let allowed = match since.as_str() {
                Some("2.0.0") => version == Version::V2_0,
                _ => {
                    return Err(jsonschema::ValidationError::custom("xapiSince must be \"2.0.0\""));
                }
            };
            Ok(Box::new(Since { allowed }) as Box<dyn for<'i> Keyword<'i>>)
        })
}

/// The `xapiSince` keyword: the property exists only from xAPI 2.0.0 on (contextAgents,
/// contextGroups), so a 1.0.3 request may not use it.
struct Since {
    allowed: bool,
}

impl<'i> Keyword<'i> for Since {
    fn validate(&self, _instance: &'i Value) -> Result<(), jsonschema::ValidationError<'i>> {
        if self.allowed {
            Ok(())
        } else {
            Err(jsonschema::ValidationError::custom("is not allowed in xAPI 1.0.3 (it was added in 2.0.0)"))
        }
    }

    fn is_valid(&self, _instance: &'i Value) -> bool {
        self.allowed
    }
}

/// A Timestamp (xAPI 1.0.3 Data §4.5): ISO 8601, and never the `-00:00` "unknown offset",
/// which ISO 8601 does not allow. 1.0.3 only recommends an offset (SHOULD*); 2.0.0 requires one.
fn is_valid_timestamp(text: &str, version: Version) -> bool {
    Timestamp::parse(text)
        .is_some_and(|t| !t.negative_zero_offset && (t.has_offset || version == Version::V1_0))
}

/// Validates one statement as received (before the LRS adds its own properties).
pub(crate) fn statement(value: &Value, version: Version) -> Result<(), ValidationError> {
    let validators = validators(version);
    if !validators.statement.is_valid(value) {
        return Err(first_error(&validators.statement, value));
    }
    match value {
        Value::Object(map) => rules::statement(map),
        _ => Err(ValidationError::new("", "a statement must be a JSON object")),
    }
}

/// Validates an Agent or Group object (the `agent` query parameter, or any actor).
pub(crate) fn agent_or_group(value: &Value, version: Version) -> Result<(), ValidationError> {
    let validators = validators(version);
    if !validators.actor.is_valid(value) {
        return Err(first_error(&validators.actor, value));
    }
    match value {
        Value::Object(map) => rules::actor_rules(map, &Path::Root),
        _ => Err(ValidationError::new("", "must be an Agent or Group object")),
    }
}

/// The first schema error, in the crate's terms. When a property is missing from an object
/// that also has an unknown one, the unknown one is named instead: it is usually the
/// missing one misspelt (`Actor` for `actor`).
fn first_error(validator: &Validator, instance: &Value) -> ValidationError {
    let errors: Vec<_> = validator.iter_errors(instance).collect();
    let Some(first) = errors.first() else {
        return ValidationError::new("", "is not a valid xAPI object");
    };
    let misspelt = matches!(first.kind(), ValidationErrorKind::Required { .. })
        .then(|| {
            errors.iter().find(|e| {
                matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. })
                    && e.instance_path() == first.instance_path()
            })
        })
        .flatten();
    explain(misspelt.unwrap_or(first), instance)
}

/// Turns a jsonschema error into a `ValidationError` with a dotted path and a readable rule.
fn explain(error: &jsonschema::ValidationError<'_>, root: &Value) -> ValidationError {
    let path = dotted_path(error, root);
    let at = |key: &str| join_path(&path, key);
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let message = if property == "objectType" && defined_in(error) == Some("group") {
                "is required: a Group must have objectType \"Group\""
            } else {
                "is required"
            };
            ValidationError::new(at(property), message)
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let key = unexpected.first().map(String::as_str).unwrap_or_default();
            let untyped = error.instance().get("objectType").is_none();
            if untyped && matches!(key, "mbox" | "mbox_sha1sum" | "openid" | "account" | "member") {
                // An object without objectType is read as an Activity (Data 2.4.4).
                let message = "is not a property of an Activity; an Agent or Group used as an object must have objectType";
                return ValidationError::new(at(key), message);
            }
            let message = match defined_in(error).and_then(noun) {
                Some(noun) => format!("is not a property of {noun}"),
                None => "is not an allowed property here".to_string(),
            };
            ValidationError::new(at(key), message)
        }
        ValidationErrorKind::Type { .. }
            if error.evaluation_path().as_str().contains("/contextActivities/")
                && error.evaluation_path().as_str().contains("/else/") =>
        {
            ValidationError::new(path, "must be an Activity or an array of Activities")
        }
        ValidationErrorKind::Type { kind } => {
            ValidationError::new(path, format!("must be {}", describe_type(kind)))
        }
        ValidationErrorKind::Format { format } => ValidationError::new(path, format_rule(format)),
        ValidationErrorKind::Constant { expected_value } => {
            ValidationError::new(path, format!("must be {expected_value}"))
        }
        ValidationErrorKind::Enum { options } => {
            let options =
                options.as_array().map(|o| o.iter().map(Value::to_string).collect::<Vec<_>>().join(", "));
            ValidationError::new(path, format!("must be one of {}", options.unwrap_or_default()))
        }
        ValidationErrorKind::Minimum { limit } => {
            ValidationError::new(path, format!("must be at least {limit}"))
        }
        ValidationErrorKind::Maximum { limit } => {
            ValidationError::new(path, format!("must be at most {limit}"))
        }
        ValidationErrorKind::MinItems { .. } => ValidationError::new(path, "must not be empty"),
        ValidationErrorKind::FalseSchema => ValidationError::new(path, "is not allowed here"),
        ValidationErrorKind::PropertyNames { error: inner } => {
            let key = inner.instance();
            let rule = match inner.kind() {
                ValidationErrorKind::Format { format } => format_rule(format),
                _ => inner.to_string(),
            };
            ValidationError::new(path, format!("key {key} {rule}"))
        }
        ValidationErrorKind::Custom { message, .. } => ValidationError::new(path, message.clone()),
        _ => ValidationError::new(path, error.to_string()),
    }
}

/// The `$defs` entry of the schema whose keyword failed (`subStatement`, `agent`, ...).
fn defined_in<'e>(error: &'e jsonschema::ValidationError<'_>) -> Option<&'e str> {
    error.schema_path().as_str().strip_prefix("/$defs/")?.split('/').next()
}

/// What a `$defs` entry describes, for messages.
fn noun(definition: &str) -> Option<&'static str> {
    Some(match definition {
        "statement" => "a statement",
        "subStatement" => "a SubStatement (which has no id, stored, version or authority)",
        "agent" => "an Agent",
        "group" => "a Group",
        "account" => "an account",
        "verb" => "a Verb",
        "activity" => "an Activity",
        "activityDefinition" => "an Activity definition",
        "interactionComponents" => "an interaction component",
        "statementRef" => "a StatementRef",
        "result" => "a result",
        "score" => "a score",
        "context" => "a context",
        "contextActivities" => "contextActivities (parent, grouping, category, other)",
        "contextAgent" => "a contextAgent",
        "contextGroup" => "a contextGroup",
        "attachment" => "an attachment",
        _ => return None,
    })
}

/// The instance path in dotted form. An all-digit segment is an array index only where the
/// instance holds an array (an extension key may well be `"2"`).
fn dotted_path(error: &jsonschema::ValidationError<'_>, root: &Value) -> String {
    let mut path = String::new();
    let mut node = Some(root);
    for segment in error.instance_path().segments() {
        let key = match segment {
            LocationSegment::Index(i) if node.is_some_and(Value::is_array) => {
                node = node.and_then(|n| n.get(i));
                path.push_str(&format!("[{i}]"));
                continue;
            }
            LocationSegment::Index(i) => i.to_string(),
            LocationSegment::Property(p) => p.into_owned(),
        };
        node = node.and_then(|n| n.get(&key));
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key);
    }
    path
}

fn describe_type(kind: &TypeKind) -> String {
    let article = |t: &str| match t {
        "array" | "object" | "integer" => format!("an {t}"),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => article(t.as_str()),
        TypeKind::Multiple(set) => set.iter().map(|t| article(t.as_str())).collect::<Vec<_>>().join(" or "),
    }
}

/// The rule behind each custom format, as the error message states it.
fn format_rule(format: &str) -> String {
    match format {
        "xapi-iri" => "must be an absolute IRI (with a scheme, e.g. http://…)",
        "xapi-irl" => "must be an absolute IRL (with a scheme, e.g. https://…)",
        "xapi-mailto-iri" => "must be a mailto IRI (mailto:name@example.com)",
        "xapi-sha1-hex" => "must be a hex-encoded SHA-1 digest (40 hexadecimal characters)",
        "xapi-sha2-hex" => "must be a hex-encoded SHA-2 digest (64, 96 or 128 hexadecimal characters)",
        "xapi-uuid" => "must be a UUID in standard string form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
        "xapi-language-tag" => "must be a well-formed RFC 5646 language tag",
        "xapi-duration" => "must be an ISO 8601 duration (e.g. PT1H30M)",
        "xapi-media-type" => "must be an Internet media type (type/subtype)",
        "xapi-timestamp" => {
            "must be an ISO 8601 timestamp (with a time zone offset under xAPI 2.0, never -00:00)"
        }
        "xapi-version" => "must be a supported xAPI version (1.0.x, or 2.0.x with xAPI 2.0)",
        other => return format!("must be a valid {other}"),
    }
    .to_string()
}
