//! Activity definitions as the LRS keeps them: gathered from the statements it accepts and
//! merged, so `GET /activities` and `format=canonical` show the canonical definition
//! (xAPI 1.0.3 Communication §2.5 and §2.1.3).

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Every Activity with a definition in a statement: the object, the context activities,
/// and the same inside a SubStatement; `(id, definition)` in document order.
pub fn activity_definitions(statement: &Map<String, Value>) -> Vec<(&str, &Map<String, Value>)> {
    let mut found = Vec::new();
    for_each_activity(statement, &mut |activity| {
        if let (Some(Value::String(id)), Some(Value::Object(definition))) =
            (activity.get("id"), activity.get("definition"))
        {
            found.push((id.as_str(), definition));
        }
    });
    found
}

/// The ids of every Activity in a statement (object, context activities, SubStatement).
pub fn activity_ids(statement: &Map<String, Value>) -> Vec<String> {
    let mut ids = Vec::new();
    for_each_activity(statement, &mut |activity| {
        if let Some(Value::String(id)) = activity.get("id") {
            ids.push(id.clone());
        }
    });
    ids
}

/// Puts the LRS's held definitions in place of the statement's own (the `canonical`
/// format: xAPI 1.0.3 Communication §2.1.3).
pub fn use_held_definitions(statement: &mut Map<String, Value>, held: &HashMap<String, Map<String, Value>>) {
    rewrite_activities(statement, &mut |activity| {
        let definition = activity.get("id").and_then(Value::as_str).and_then(|id| held.get(id));
        if let Some(definition) = definition {
            activity.insert("definition".into(), Value::Object(definition.clone()));
        }
    });
}

/// Calls `visit` on every Activity object of a statement.
fn for_each_activity<'a>(statement: &'a Map<String, Value>, visit: &mut impl FnMut(&'a Map<String, Value>)) {
    if let Some(Value::Object(object)) = statement.get("object") {
        match object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
            "Activity" => visit(object),
            "SubStatement" => for_each_activity(object, visit),
            _ => {}
        }
    }
    let lists = statement.get("context").and_then(|c| c.get("contextActivities")).and_then(Value::as_object);
    for list in lists.into_iter().flat_map(|l| l.values()) {
        match list {
            Value::Array(items) => items.iter().filter_map(Value::as_object).for_each(&mut *visit),
            Value::Object(single) => visit(single),
            _ => {}
        }
    }
}

/// The same walk as [`for_each_activity`], with each Activity open for change.
fn rewrite_activities(statement: &mut Map<String, Value>, visit: &mut impl FnMut(&mut Map<String, Value>)) {
    if let Some(Value::Object(object)) = statement.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
            "Activity" => visit(object),
            "SubStatement" => rewrite_activities(object, visit),
            _ => {}
        }
    }
    let lists = statement
        .get_mut("context")
        .and_then(|c| c.get_mut("contextActivities"))
        .and_then(Value::as_object_mut);
    for list in lists.into_iter().flat_map(|l| l.values_mut()) {
        match list {
            Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut *visit),
            Value::Object(single) => visit(single),
            _ => {}
        }
    }
}

/// Merges a newer definition into the one held: language maps (`name`, `description`)
/// and `extensions` merge entry by entry, newer entries winning; every other property
/// is replaced by the newer one.
pub fn merge_definition(held: &mut Map<String, Value>, newer: &Map<String, Value>) {
    for (key, value) in newer {
        match (key.as_str(), held.get_mut(key), value) {
            ("name" | "description" | "extensions", Some(Value::Object(old)), Value::Object(new)) => {
                for (entry, text) in new {
                    old.insert(entry.clone(), text.clone());
                }
            }
            _ => {
                held.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn definitions_are_found_in_the_object_context_and_sub_statement() {
        let statement = map(json!({
            "object": { "objectType": "SubStatement",
                "object": { "id": "http://a/sub", "definition": { "type": "http://t/1" } },
                "context": { "contextActivities": { "parent": { "id": "http://a/sub-parent", "definition": {} } } } },
            "context": { "contextActivities": {
                "grouping": [{ "id": "http://a/group", "definition": { "name": { "en": "G" } } }, { "id": "http://a/bare" }] } },
        }));
        let ids: Vec<&str> = activity_definitions(&statement).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["http://a/sub", "http://a/sub-parent", "http://a/group"]);
    }

    #[test]
    fn held_definitions_replace_the_statements_own_everywhere() {
        let mut statement = map(json!({
            "object": { "id": "http://a/1", "definition": { "name": { "en": "old" } } },
            "context": { "contextActivities": { "parent": [{ "id": "http://a/2" }], "other": [{ "id": "http://a/3" }] } },
        }));
        let held: HashMap<String, Map<String, Value>> = [
            ("http://a/1".to_string(), map(json!({ "name": { "en": "new", "de": "neu" } }))),
            ("http://a/2".to_string(), map(json!({ "type": "http://t/course" }))),
        ]
        .into();
        assert_eq!(activity_ids(&statement), ["http://a/1", "http://a/2", "http://a/3"]);
        use_held_definitions(&mut statement, &held);
        assert_eq!(statement["object"]["definition"], json!({ "name": { "en": "new", "de": "neu" } }));
        assert_eq!(
            statement["context"]["contextActivities"]["parent"][0]["definition"],
            json!({ "type": "http://t/course" })
        );
        assert!(statement["context"]["contextActivities"]["other"][0].get("definition").is_none());
    }

    #[test]
    fn language_maps_merge_and_other_properties_are_replaced() {
        let mut held = map(json!({
            "name": { "en-US": "Install", "de-DE": "Installieren" },
            "type": "http://t/old",
            "extensions": { "http://e/a": 1 },
        }));
        merge_definition(
            &mut held,
            &map(
                json!({ "name": { "en-US": "Installing", "fr-FR": "Installer" }, "type": "http://t/new", "extensions": { "http://e/b": 2 } }),
            ),
        );
        assert_eq!(
            Value::Object(held),
            json!({
                "name": { "en-US": "Installing", "de-DE": "Installieren", "fr-FR": "Installer" },
                "type": "http://t/new",
                "extensions": { "http://e/a": 1, "http://e/b": 2 },
            })
        );
    }
}
