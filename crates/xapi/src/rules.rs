//! The statement rules a JSON Schema cannot express well: how many identifiers an Agent has,
//! what an anonymous Group and a 3-legged-OAuth authority look like, which interaction
//! component lists an interactionType allows, score ranges, where revision and platform may
//! appear, and what a voiding statement's object is.
//!
//! These run only on values the schema already accepted, so every property has its
//! documented JSON type; lookups still go through `Value` accessors so that a schema change
//! can never turn into a panic here.

use serde_json::{Map, Value};

use crate::VOIDED_VERB;
use crate::ValidationError;

/// A JSON path built on the stack while walking, turned into a string only on error.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Key(parent, key) => {
                let parent = parent.render();
                if parent.is_empty() { (*key).to_string() } else { format!("{parent}.{key}") }
            }
            Path::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }

    fn error(&self, message: impl Into<String>) -> ValidationError {
        ValidationError::new(self.render(), message)
    }
}

type Rule = Result<(), ValidationError>;

const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// Rules for a whole statement (its schema already passed).
pub(crate) fn statement(statement: &Map<String, Value>) -> Rule {
    let root = Path::Root;
    statement_body(statement, &root)?;
    if let Some(authority) = statement.get("authority").and_then(Value::as_object) {
        authority_rules(authority, &root.key("authority"))?;
    }
    // xAPI 1.0.3 Data §2.3.2: the object of a voiding statement MUST be a StatementRef.
    let verb = statement.get("verb").and_then(|v| v.get("id")).and_then(Value::as_str);
    if verb == Some(VOIDED_VERB) && object_type(statement.get("object")) != "StatementRef" {
        let path = root.key("object");
        return Err(path.key("objectType").error("must be \"StatementRef\" when the verb is voided"));
    }
    Ok(())
}

/// Rules shared by a statement and a SubStatement.
fn statement_body(statement: &Map<String, Value>, path: &Path) -> Rule {
    if let Some(actor) = statement.get("actor").and_then(Value::as_object) {
        actor_rules(actor, &path.key("actor"))?;
    }
    let object = statement.get("object");
    let object_type = object_type(object);
    if let Some(object_map) = object.and_then(Value::as_object) {
        let object_path = path.key("object");
        match object_type {
            "Agent" | "Group" => actor_rules(object_map, &object_path)?,
            "SubStatement" => statement_body(object_map, &object_path)?,
            "StatementRef" => {}
            _ => activity_rules(object_map, &object_path)?,
        }
    }
    if let Some(result) = statement.get("result").and_then(Value::as_object) {
        result_rules(result, &path.key("result"))?;
    }
    if let Some(context) = statement.get("context").and_then(Value::as_object) {
        context_rules(context, object_type == "Activity", &path.key("context"))?;
    }
    Ok(())
}

/// The objectType of a statement's object, defaulting to Activity (xAPI 1.0.3 Data §2.4.4).
fn object_type(object: Option<&Value>) -> &str {
    object.and_then(|o| o.get("objectType")).and_then(Value::as_str).unwrap_or("Activity")
}

fn is_group(actor: &Map<String, Value>) -> bool {
    actor.get("objectType").and_then(Value::as_str) == Some("Group")
}

fn ifi_count(actor: &Map<String, Value>) -> usize {
    // An Agent has a handful of keys: scanning them beats four hashed lookups.
    actor.keys().filter(|k| IFIS.contains(&k.as_str())).count()
}

/// An Agent has exactly one IFI; a Group has at most one, and without one (anonymous) it
/// lists its members; members are Agents with exactly one IFI (xAPI 1.0.3 Data §2.4.2).
pub(crate) fn actor_rules(actor: &Map<String, Value>, path: &Path) -> Rule {
    let ifis = ifi_count(actor);
    if !is_group(actor) {
        return match ifis {
            1 => Ok(()),
            0 => {
                Err(path.error("an Agent must be identified by one of mbox, mbox_sha1sum, openid or account"))
            }
            _ => Err(path.error(format!(
                "an Agent must have exactly one inverse functional identifier, found {}",
                present_ifis(actor)
            ))),
        };
    }
    if ifis > 1 {
        return Err(path.error(format!(
            "an identified Group must have exactly one inverse functional identifier, found {}",
            present_ifis(actor)
        )));
    }
    let members = actor.get("member").and_then(Value::as_array);
    if ifis == 0 && members.is_none_or(Vec::is_empty) {
        let message =
            "an anonymous Group (one without mbox, mbox_sha1sum, openid or account) must list its members";
        return Err(path.key("member").error(message));
    }
    let member_path = path.key("member");
    for (i, member) in members.into_iter().flatten().enumerate() {
        if let Some(member) = member.as_object() {
            actor_rules(member, &member_path.index(i))?;
        }
    }
    Ok(())
}

fn present_ifis(actor: &Map<String, Value>) -> String {
    IFIS.iter().filter(|k| actor.contains_key(**k)).copied().collect::<Vec<_>>().join(" and ")
}

/// xAPI 1.0.3 Data §2.4.9: the authority is an Agent, or, for 3-legged OAuth, an anonymous
/// Group of exactly two Agents (the OAuth consumer and the user).
fn authority_rules(authority: &Map<String, Value>, path: &Path) -> Rule {
    actor_rules(authority, path)?;
    if !is_group(authority) {
        return Ok(());
    }
    if ifi_count(authority) > 0 {
        return Err(path.error(
            "a Group authority must be anonymous: the OAuth consumer and the user, identified only by its two members",
        ));
    }
    let members = authority.get("member").and_then(Value::as_array).map_or(0, Vec::len);
    if members != 2 {
        return Err(path.key("member").error(format!(
            "a Group authority must have exactly two members (OAuth consumer and user), found {members}"
        )));
    }
    Ok(())
}

const COMPONENT_LISTS: [&str; 5] = ["choices", "scale", "source", "target", "steps"];

/// The interaction component lists each interactionType supports (xAPI 1.0.3 Data §2.4.4.1,
/// "Interaction Components").
fn allowed_component_lists(interaction_type: &str) -> &'static [&'static str] {
    match interaction_type {
        "choice" | "sequencing" => &["choices"],
        "likert" => &["scale"],
        "matching" => &["source", "target"],
        "performance" => &["steps"],
        _ => &[],
    }
}

fn activity_rules(activity: &Map<String, Value>, path: &Path) -> Rule {
    let Some(definition) = activity.get("definition").and_then(Value::as_object) else {
        return Ok(());
    };
    let path = path.key("definition");
    let interaction_type = definition.get("interactionType").and_then(Value::as_str);
    let Some(interaction_type) = interaction_type else {
        // xAPI 1.0.3 Data §2.4.4.1: interaction properties belong to Interaction Activities,
        // which MUST have an interactionType.
        let used = std::iter::once("correctResponsesPattern")
            .chain(COMPONENT_LISTS)
            .find(|k| definition.contains_key(*k));
        return match used {
            Some(used) => {
                Err(path.key("interactionType").error(format!("is required when {used} is present")))
            }
            None => Ok(()),
        };
    };
    let allowed = allowed_component_lists(interaction_type);
    for list in COMPONENT_LISTS {
        let Some(components) = definition.get(list).and_then(Value::as_array) else {
            continue;
        };
        let list_path = path.key(list);
        if !allowed.contains(&list) {
            return Err(
                list_path.error(format!("is not allowed when interactionType is \"{interaction_type}\""))
            );
        }
        // Within an array of interaction components, all id values MUST be distinct.
        for (i, component) in components.iter().enumerate() {
            let id = component.get("id").and_then(Value::as_str);
            let earlier = components[..i].iter().position(|c| c.get("id").and_then(Value::as_str) == id);
            if let Some(j) = earlier {
                let message =
                    format!("duplicates the id of {list}[{j}]; component ids must be distinct within a list");
                return Err(list_path.index(i).key("id").error(message));
            }
        }
    }
    Ok(())
}

/// xAPI 1.0.3 Data §2.4.5.1: raw lies between min and max (inclusive) and min is less than max.
fn result_rules(result: &Map<String, Value>, path: &Path) -> Rule {
    let Some(score) = result.get("score").and_then(Value::as_object) else {
        return Ok(());
    };
    let path = path.key("score");
    let number = |k: &str| score.get(k).and_then(Value::as_f64);
    let (raw, min, max) = (number("raw"), number("min"), number("max"));
    if let (Some(min), Some(max)) = (min, max)
        && min >= max
    {
        return Err(path.key("min").error(format!("must be less than max ({max})")));
    }
    if let (Some(raw), Some(min)) = (raw, min)
        && raw < min
    {
        return Err(path.key("raw").error(format!("must not be less than min ({min})")));
    }
    if let (Some(raw), Some(max)) = (raw, max)
        && raw > max
    {
        return Err(path.key("raw").error(format!("must not be greater than max ({max})")));
    }
    Ok(())
}

fn context_rules(context: &Map<String, Value>, object_is_activity: bool, path: &Path) -> Rule {
    if !object_is_activity {
        // xAPI 1.0.3 Data §2.4.6: revision and platform MUST only be used with an Activity object.
        for key in ["revision", "platform"] {
            if context.contains_key(key) {
                return Err(path
                    .key(key)
                    .error("is only allowed when the statement's object is an Activity"));
            }
        }
    }
    for key in ["instructor", "team"] {
        if let Some(actor) = context.get(key).and_then(Value::as_object) {
            actor_rules(actor, &path.key(key))?;
        }
    }
    for (list, field) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        let list_path = path.key(list);
        for (i, entry) in context.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(actor) = entry.get(field).and_then(Value::as_object) {
                actor_rules(actor, &list_path.index(i).key(field))?;
            }
        }
    }
    Ok(())
}
