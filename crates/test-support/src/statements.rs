//! Statement builders: valid, realistic statements with unique actors and activities, so
//! tests never see each other's data.

use serde_json::{Value, json};
use uuid::Uuid;

/// A unique `mailto:` agent.
pub fn agent() -> Value {
    json!({ "objectType": "Agent", "name": "Test Learner", "mbox": format!("mailto:{}@example.com", Uuid::new_v4().simple()) })
}

/// A unique activity IRI.
pub fn activity_id() -> String {
    format!("http://example.com/activities/{}", Uuid::new_v4().simple())
}

/// A unique verb IRI.
pub fn verb_id() -> String {
    format!("http://example.com/verbs/{}", Uuid::new_v4().simple())
}

/// A minimal valid statement: a unique agent experienced a unique activity.
pub fn statement() -> Value {
    statement_with(agent(), "http://adlnet.gov/expapi/verbs/experienced", &activity_id())
}

/// A statement with the given actor, verb and activity.
pub fn statement_with(actor: Value, verb: &str, activity: &str) -> Value {
    json!({
        "actor": actor,
        "verb": { "id": verb, "display": { "en-US": "did" } },
        "object": { "objectType": "Activity", "id": activity, "definition": { "name": { "en-US": "An activity" } } },
    })
}

/// A statement that voids `target`.
pub fn voiding(target: Uuid) -> Value {
    json!({
        "actor": agent(),
        "verb": { "id": xapi::VOIDED_VERB, "display": { "en-US": "voided" } },
        "object": { "objectType": "StatementRef", "id": target.to_string() },
    })
}

/// A statement whose object is a StatementRef to `target`.
pub fn referring_to(target: Uuid, verb: &str) -> Value {
    json!({
        "actor": agent(),
        "verb": { "id": verb },
        "object": { "objectType": "StatementRef", "id": target.to_string() },
    })
}
