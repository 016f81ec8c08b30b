//! Shared fixtures for the xapi integration tests: a minimal statement, edits on it by JSON
//! pointer, and assertions that name the path of the rejected property.

#![allow(dead_code)]

use serde_json::{Value, json};
use xapi::{Statement, ValidationError, Version};

pub const BOTH: [Version; 2] = [Version::V1_0, Version::V2_0];

/// The smallest valid statement.
pub fn minimal() -> Value {
    json!({
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
        "object": {"id": "http://example.com/activities/course-1"}
    })
}

/// `minimal()` with the value at `pointer` (`/actor/mbox`) set, creating objects on the way.
pub fn with(pointer: &str, value: Value) -> Value {
    edit(minimal(), pointer, value)
}

/// `statement` with the value at `pointer` set, creating objects on the way.
pub fn edit(mut statement: Value, pointer: &str, value: Value) -> Value {
    set(&mut statement, pointer, value);
    statement
}

pub fn set(target: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let mut node = target;
    for segment in parent.split('/').skip(1) {
        node = match node {
            Value::Array(items) => &mut items[segment.parse::<usize>().expect("an index")],
            Value::Object(map) => map.entry(segment.to_string()).or_insert_with(|| json!({})),
            other => panic!("cannot descend into {other}"),
        };
    }
    match node {
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        other => panic!("cannot set a key on {other}"),
    }
}

/// `statement` without the value at `pointer`.
pub fn without(mut statement: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    if let Some(Value::Object(map)) = statement.pointer_mut(parent) {
        map.shift_remove(key);
    }
    statement
}

/// Asserts the statement is valid under `version`.
pub fn accept_in(statement: Value, version: Version) -> Statement {
    match Statement::parse(statement.clone(), version) {
        Ok(parsed) => parsed,
        Err(e) => panic!("expected {statement} to be valid under {version}, got `{e}`"),
    }
}

/// Asserts the statement is valid under both versions.
pub fn accept(statement: Value) {
    for version in BOTH {
        accept_in(statement.clone(), version);
    }
}

/// Asserts the statement is rejected under `version` with the error at `path`.
pub fn reject_in(statement: Value, version: Version, path: &str) -> ValidationError {
    match Statement::parse(statement.clone(), version) {
        Ok(_) => panic!("expected {statement} to be rejected under {version} at `{path}`"),
        Err(e) => {
            assert_eq!(e.path, path, "under {version}, for {statement}: {e}");
            e
        }
    }
}

/// Asserts the statement is rejected under both versions with the error at `path`, and
/// returns the 2.0 error for checks on the message.
pub fn reject(statement: Value, path: &str) -> ValidationError {
    reject_in(statement.clone(), Version::V1_0, path);
    reject_in(statement, Version::V2_0, path)
}

/// Asserts the message of `error` mentions `needle`.
pub fn says(error: &ValidationError, needle: &str) {
    assert!(error.message.contains(needle), "expected `{}` to mention `{needle}`", error.message);
}

/// An interaction Activity definition of the given type with the given extra properties.
pub fn interaction(interaction_type: &str, extra: Value) -> Value {
    let mut definition = json!({
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "interactionType": interaction_type
    });
    if let (Value::Object(definition), Value::Object(extra)) = (&mut definition, extra) {
        definition.extend(extra);
    }
    with("/object/definition", definition)
}
