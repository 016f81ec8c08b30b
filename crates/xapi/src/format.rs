//! The statement formats of the `format` query parameter (xAPI 1.0.3 Communication §2.1.3),
//! and how a statement looks to a reader of another xAPI version.

use serde_json::{Map, Value};

use crate::{LanguagePreferences, Version};

/// How statements are returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Only what identifies Agents, Groups, Activities and Verbs.
    Ids,
    /// Exactly as stored.
    #[default]
    Exact,
    /// Language maps reduced to the reader's preferred language.
    Canonical,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "ids" => Some(Format::Ids),
            "exact" => Some(Format::Exact),
            "canonical" => Some(Format::Canonical),
            _ => None,
        }
    }
}

/// Rewrites a stored statement into the requested format.
///
/// - `exact` leaves it untouched.
/// - `ids` keeps only what identifies each Agent and identified Group (objectType and the
///   IFI), anonymous Group (objectType and its members, themselves in `ids` form), Activity
///   (`id`) and Verb (`id`), wherever they appear: actor, object, authority, context
///   (instructor, team, contextActivities, contextAgents, contextGroups), and the same
///   inside a SubStatement. Everything else (result, timestamps, attachments, ...) stays.
/// - `canonical` reduces every language map of Verbs, Activities (name, description,
///   interaction components) and attachments to the one entry the reader's
///   `Accept-Language` picks ([`LanguagePreferences::best_key`]). Agents and Groups stay as
///   in `exact`. An LRS that keeps canonical Activity definitions substitutes them before
///   calling this.
pub fn format_statement(statement: &mut Map<String, Value>, format: Format, languages: &LanguagePreferences) {
    match format {
        Format::Exact => {}
        Format::Ids => ids_statement(statement),
        Format::Canonical => canonical_statement(statement, languages),
    }
}

const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

fn object_type(object: &Map<String, Value>) -> &str {
    object.get("objectType").and_then(Value::as_str).unwrap_or("Activity")
}

fn ids_statement(statement: &mut Map<String, Value>) {
    for key in ["actor", "authority"] {
        if let Some(Value::Object(actor)) = statement.get_mut(key) {
            ids_actor(actor);
        }
    }
    if let Some(Value::Object(verb)) = statement.get_mut("verb") {
        verb.retain(|k, _| k == "id");
    }
    if let Some(Value::Object(object)) = statement.get_mut("object") {
        match object_type(object) {
            "Agent" | "Group" => ids_actor(object),
            "SubStatement" => ids_statement(object),
            "StatementRef" => {}
            _ => ids_activity(object),
        }
    }
    if let Some(Value::Object(context)) = statement.get_mut("context") {
        ids_context(context);
    }
}

/// An Activity is identified by its id alone (the ADL suite checks that `objectType` is
/// dropped too; without it an object is an Activity by default).
fn ids_activity(activity: &mut Map<String, Value>) {
    activity.retain(|k, _| k == "id");
}

fn ids_actor(actor: &mut Map<String, Value>) {
    let anonymous = !IFIS.iter().any(|k| actor.contains_key(*k));
    if anonymous {
        // Anonymous Groups are identified by their members (Communication §2.1.3).
        actor.retain(|k, _| k == "objectType" || k == "member");
        for member in actor.get_mut("member").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Value::Object(member) = member {
                ids_actor(member);
            }
        }
    } else {
        actor.retain(|k, _| k == "objectType" || IFIS.contains(&k.as_str()));
    }
}

fn ids_context(context: &mut Map<String, Value>) {
    for key in ["instructor", "team"] {
        if let Some(Value::Object(actor)) = context.get_mut(key) {
            ids_actor(actor);
        }
    }
    for (list, field) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        for entry in context.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(Value::Object(actor)) = entry.get_mut(field) {
                ids_actor(actor);
            }
        }
    }
    for_each_context_activity(context, ids_activity);
}

fn for_each_context_activity(
    context: &mut Map<String, Value>,
    mut apply: impl FnMut(&mut Map<String, Value>),
) {
    let Some(Value::Object(lists)) = context.get_mut("contextActivities") else {
        return;
    };
    for list in lists.values_mut() {
        match list {
            Value::Array(activities) => {
                for activity in activities.iter_mut().filter_map(Value::as_object_mut) {
                    apply(activity);
                }
            }
            Value::Object(activity) => apply(activity),
            _ => {}
        }
    }
}

fn canonical_statement(statement: &mut Map<String, Value>, languages: &LanguagePreferences) {
    if let Some(Value::Object(verb)) = statement.get_mut("verb") {
        reduce(verb, "display", languages);
    }
    if let Some(Value::Object(object)) = statement.get_mut("object") {
        match object_type(object) {
            "SubStatement" => canonical_statement(object, languages),
            "Activity" => canonical_activity(object, languages),
            _ => {}
        }
    }
    if let Some(Value::Object(context)) = statement.get_mut("context") {
        for_each_context_activity(context, |activity| canonical_activity(activity, languages));
    }
    for attachment in statement.get_mut("attachments").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Value::Object(attachment) = attachment {
            reduce(attachment, "display", languages);
            reduce(attachment, "description", languages);
        }
    }
}

fn canonical_activity(activity: &mut Map<String, Value>, languages: &LanguagePreferences) {
    let Some(Value::Object(definition)) = activity.get_mut("definition") else {
        return;
    };
    reduce(definition, "name", languages);
    reduce(definition, "description", languages);
    for list in ["choices", "scale", "source", "target", "steps"] {
        for component in definition.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Value::Object(component) = component {
                reduce(component, "description", languages);
            }
        }
    }
}

fn reduce(holder: &mut Map<String, Value>, key: &str, languages: &LanguagePreferences) {
    if let Some(Value::Object(map)) = holder.get_mut(key) {
        languages.reduce(map);
    }
}

/// Rewrites a stored statement for a reader that speaks `version`, so that statements
/// stored under one xAPI version are readable under the other.
///
/// - A 2.0 reader gets the statement as stored: 2.0.0 accepts every 1.0.3 statement.
/// - A 1.0.x reader does not get what xAPI 2.0.0 added to the statement model, which a
///   1.0.3 client cannot expect (1.0.3 rejects it on input): `context.contextAgents` and
///   `context.contextGroups`, in the statement's context and in a SubStatement's.
///
/// `version` stays as stored, `2.0.0` included: both versions require that "Statements
/// returned by an LRS MUST retain the version property they are accepted with" (xAPI 1.0.3
/// Data §2.4.10). Timestamps need nothing: a 2.0.0 timestamp (with an offset) is a valid
/// 1.0.3 one.
pub fn format_for_version(statement: &mut Map<String, Value>, version: Version) {
    match version {
        Version::V2_0 => {}
        Version::V1_0 => without_2_0_context(statement),
    }
}

fn without_2_0_context(statement: &mut Map<String, Value>) {
    if let Some(Value::Object(context)) = statement.get_mut("context") {
        context.remove("contextAgents");
        context.remove("contextGroups");
        // An emptied context stays: `"context": {}` is valid in 1.0.3.
    }
    if let Some(Value::Object(object)) = statement.get_mut("object")
        && object_type(object) == "SubStatement"
    {
        without_2_0_context(object);
    }
}
