//! Statement comparison (xAPI 1.0.3 Data §2.3.1, "Statement Comparison Requirements"):
//! differences that could have been caused by the exceptions to statement immutability
//! are ignored; any other difference, including a different serialization, is not.
//!
//! The exceptions, and how each is applied here:
//! - properties the LRS assigns: `id` (already matched by the caller), `stored`,
//!   `authority`, `version`, and `timestamp` when either side has none (the LRS fills it
//!   from `stored`);
//! - Activity Definitions and Verb `display`, which are not part of the statement;
//! - the serialization of timestamps: the same instant in another form or time zone;
//! - unordered lists: the members of a Group;
//! - case-insensitive values: UUIDs, the `mailto:` scheme and e-mail domain of `mbox`,
//!   `mbox_sha1sum` hex, language tags (`context.language`, language map keys), `sha2` hex;
//! - plus what JSON itself does not fix: property order and number spelling (`1` and
//!   `1.0`), and (Data §4.6) Duration precision beyond 0.01 s.
//!
//! A Result Duration is otherwise compared as a string: `PT1M` and `PT60S` differ.
//!
//! The same rules compare a signed statement with its JWS payload (Data §2.6), which also
//! ignore `attachments`.

use serde_json::{Map, Number, Value};

use crate::Timestamp;
use crate::agent::canonical_mbox;

/// Whether a re-sent statement is the same as the stored one, ignoring what the LRS sets
/// (`stored`, `authority`, `version`, and `timestamp` where the LRS filled it), so a client
/// that retries after a timeout is answered as if its first attempt succeeded.
///
/// `candidate` is the statement as received (after [`Statement::parse`](crate::Statement::parse));
/// `stored` is the statement as the LRS keeps it (after `finalize`), or another statement
/// as received. The comparison is symmetric.
pub fn equivalent(candidate: &Map<String, Value>, stored: &Map<String, Value>) -> bool {
    statements_equal(candidate, stored, Level::Resent)
}

/// Whether the payload of a statement's JWS signature is that statement (xAPI 1.0.3 Data
/// §2.6: "Validate that the original Statement is logically equivalent to the received
/// Statement"), used by [`verify_signature`](crate::verify_signature).
///
/// On top of what [`equivalent`] ignores, `attachments` is ignored on both sides (the
/// signer signs the statement before the signature attachment is added, and Attachments
/// are an exception to immutability), while `id` counts when both sides have one: an id
/// on one side only may have been assigned by an LRS the statement passed through, two
/// different ids cannot.
pub(crate) fn signed_payload_equivalent(
    payload: &Map<String, Value>,
    statement: &Map<String, Value>,
) -> bool {
    statements_equal(payload, statement, Level::Signed)
}

/// Which statement a comparison is about, and so which properties it may ignore.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A statement and a re-sent copy of it (its id already matched by the caller).
    Resent,
    /// A signed statement and its JWS payload.
    Signed,
    /// A SubStatement, where the LRS sets nothing.
    Sub,
}

/// Compares a statement or a SubStatement.
fn statements_equal(a: &Map<String, Value>, b: &Map<String, Value>, level: Level) -> bool {
    let top = level != Level::Sub;
    all_keys(a, b, |key, x, y| match key {
        "stored" | "authority" | "version" if top => true,
        "id" if level == Level::Resent => true,
        "id" if level == Level::Signed && (x.is_none() || y.is_none()) => true,
        "id" => both(x, y, strings_equal_ignoring_case),
        "attachments" if level == Level::Signed => true,
        // A statement without a timestamp gets one from the LRS (`stored`), so a timestamp
        // present on one side only is the LRS's doing: on a re-sent statement, or on a
        // statement not stored yet (two requests with the same id in one group commit).
        "timestamp" if top && (x.is_none() || y.is_none()) => true,
        "timestamp" => both(x, y, timestamps_equal),
        "actor" => both(x, y, actors_equal),
        "verb" => both(x, y, verbs_equal),
        "object" => both(x, y, objects_equal),
        "result" => both(x, y, results_equal),
        "context" => both(x, y, contexts_equal),
        "attachments" => both(x, y, |x, y| arrays_equal(x, y, attachments_equal)),
        _ => both(x, y, values_equal),
    })
}

/// Runs `same` over the union of both maps' keys, each with its value on either side.
fn all_keys(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    same: impl Fn(&str, Option<&Value>, Option<&Value>) -> bool,
) -> bool {
    a.iter().all(|(k, v)| same(k, Some(v), b.get(k)))
        && b.iter().filter(|(k, _)| !a.contains_key(*k)).all(|(k, v)| same(k, None, Some(v)))
}

/// Both present and equal under `eq`, or both absent.
fn both(a: Option<&Value>, b: Option<&Value>, eq: impl Fn(&Value, &Value) -> bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn objects(a: &Value, b: &Value, eq: impl Fn(&Map<String, Value>, &Map<String, Value>) -> bool) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => eq(a, b),
        _ => values_equal(a, b),
    }
}

fn arrays_equal(a: &Value, b: &Value, eq: impl Fn(&Value, &Value) -> bool) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y)),
        _ => values_equal(a, b),
    }
}

fn timestamps_equal(a: &Value, b: &Value) -> bool {
    match (a.as_str().and_then(Timestamp::parse), b.as_str().and_then(Timestamp::parse)) {
        (Some(a), Some(b)) => a.instant == b.instant,
        _ => values_equal(a, b),
    }
}

fn strings_equal_ignoring_case(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => values_equal(a, b),
    }
}

/// Agents and Groups: the same properties, `mbox` compared canonically, and a Group's
/// members as an unordered list (Data §2.4.2.2: "This is an unordered list").
fn actors_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "mbox" => both(x, y, |x, y| match (x.as_str(), y.as_str()) {
                (Some(x), Some(y)) => canonical_mbox(x) == canonical_mbox(y),
                _ => values_equal(x, y),
            }),
            "mbox_sha1sum" => both(x, y, strings_equal_ignoring_case),
            "member" => both(x, y, members_equal),
            _ => both(x, y, values_equal),
        })
    })
}

fn members_equal(a: &Value, b: &Value) -> bool {
    let (Value::Array(a), Value::Array(b)) = (a, b) else {
        return values_equal(a, b);
    };
    if a.len() != b.len() {
        return false;
    }
    // Match each member of `a` to a distinct, equal member of `b`; groups are small.
    let mut taken = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b.iter().enumerate().find(|(i, y)| !taken[*i] && actors_equal(x, y));
        found.map(|(i, _)| taken[i] = true).is_some()
    })
}

/// The Verb's `display` is not part of the statement (Data §2.3.1).
fn verbs_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| all_keys(a, b, |key, x, y| key == "display" || both(x, y, values_equal)))
}

/// An Activity's `definition` is not part of the statement (Data §2.3.1).
fn activities_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| all_keys(a, b, |key, x, y| key == "definition" || both(x, y, values_equal)))
}

fn statement_refs_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "id" => both(x, y, strings_equal_ignoring_case),
            _ => both(x, y, values_equal),
        })
    })
}

fn objects_equal(a: &Value, b: &Value) -> bool {
    // objectType is compared as written: an omitted "Activity" is a different serialization.
    if a.get("objectType") != b.get("objectType") {
        return false;
    }
    match a.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
        "Agent" | "Group" => actors_equal(a, b),
        "StatementRef" => statement_refs_equal(a, b),
        "SubStatement" => objects(a, b, |a, b| statements_equal(a, b, Level::Sub)),
        _ => activities_equal(a, b),
    }
}

fn results_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "duration" => both(x, y, |x, y| match (x.as_str(), y.as_str()) {
                (Some(x), Some(y)) => comparable_duration(x) == comparable_duration(y),
                _ => values_equal(x, y),
            }),
            _ => both(x, y, values_equal),
        })
    })
}

/// A Duration for comparison: seconds beyond hundredths are dropped (Data §4.6, "any
/// precision beyond 0.01 second precision SHOULD* NOT be included in the comparison"), as
/// are trailing zeros of what remains, so `PT1.5S`, `PT1.50S` and `PT1.5049S` compare equal.
fn comparable_duration(duration: &str) -> std::borrow::Cow<'_, str> {
    let Some(body) = duration.strip_suffix('S') else {
        return duration.into();
    };
    let Some(dot) = body.rfind(['.', ',']) else {
        return duration.into();
    };
    let (whole, fraction) = (&body[..dot], &body[dot + 1..]);
    let fraction = fraction[..fraction.len().min(2)].trim_end_matches('0');
    if fraction.is_empty() { format!("{whole}S").into() } else { format!("{whole}.{fraction}S").into() }
}

fn contexts_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "registration" => both(x, y, strings_equal_ignoring_case),
            "language" => both(x, y, strings_equal_ignoring_case),
            "instructor" | "team" => both(x, y, actors_equal),
            "statement" => both(x, y, statement_refs_equal),
            "contextActivities" => both(x, y, context_activities_equal),
            "contextAgents" => both(x, y, |x, y| arrays_equal(x, y, context_actors_equal)),
            "contextGroups" => both(x, y, |x, y| arrays_equal(x, y, context_actors_equal)),
            _ => both(x, y, values_equal),
        })
    })
}

/// contextActivities lists, where a single Activity equals an array holding just it (the LRS
/// returns every list as an array: Data §2.4.6.2).
fn context_activities_equal(a: &Value, b: &Value) -> bool {
    fn as_list(v: &Value) -> &[Value] {
        match v {
            Value::Array(items) => items,
            other => std::slice::from_ref(other),
        }
    }
    objects(a, b, |a, b| {
        all_keys(a, b, |_, x, y| {
            both(x, y, |x, y| {
                let (x, y) = (as_list(x), as_list(y));
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| activities_equal(x, y))
            })
        })
    })
}

/// A contextAgent or contextGroup (xAPI 2.0.0).
fn context_actors_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "agent" | "group" => both(x, y, actors_equal),
            _ => both(x, y, values_equal),
        })
    })
}

fn attachments_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        all_keys(a, b, |key, x, y| match key {
            "display" | "description" => both(x, y, language_maps_equal),
            "sha2" => both(x, y, strings_equal_ignoring_case),
            _ => both(x, y, values_equal),
        })
    })
}

/// Language maps, whose keys (language tags) are case-insensitive.
fn language_maps_equal(a: &Value, b: &Value) -> bool {
    objects(a, b, |a, b| {
        a.len() == b.len()
            && a.iter()
                .all(|(tag, text)| b.iter().any(|(other, t)| other.eq_ignore_ascii_case(tag) && t == text))
    })
}

/// JSON equality where numbers compare by value (`1`, `1.0` and `1e0` are the same number)
/// and object property order does not matter.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    a.as_f64() == b.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_compared_to_the_hundredth_of_a_second() {
        assert_eq!(comparable_duration("P1DT12H36M0.1237S"), "P1DT12H36M0.12S");
        assert_eq!(comparable_duration("PT1.50S"), "PT1.5S");
        assert_eq!(comparable_duration("PT1.00S"), "PT1S");
        assert_eq!(comparable_duration("PT1.009S"), "PT1S");
        assert_eq!(comparable_duration("PT1M"), "PT1M");
        assert_eq!(comparable_duration("P4W"), "P4W");
    }
}
