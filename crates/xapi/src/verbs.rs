//! What verbs mean to the LRS: voiding, and the attempt outcomes a verb states by itself.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::VOIDED_VERB;

/// The statement a voiding statement voids: the object's id when the verb is `voided` and
/// the object a StatementRef (xAPI 1.0.3 Data §2.3.2 "Voiding"); `None` for any other.
pub fn voided_target(statement: &Map<String, Value>) -> Option<Uuid> {
    if statement.get("verb")?.get("id")?.as_str()? != VOIDED_VERB {
        return None;
    }
    let object = statement.get("object")?;
    if object.get("objectType")?.as_str()? != "StatementRef" {
        return None;
    }
    Uuid::parse_str(object.get("id")?.as_str()?).ok()
}

/// An attempt's outcome that a verb states without a `result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerbOutcome {
    Completed,
    Passed,
    Failed,
}

/// The outcome a verb states, by its last path segment, so that every vocabulary's
/// `…/completed`, `…/passed` and `…/failed` counts (ADL's, cmi5's, the Video Profile's
/// `https://w3id.org/xapi/video/verbs/completed`).
pub fn verb_outcome(verb_id: &str) -> Option<VerbOutcome> {
    match verb_id.rsplit('/').next()? {
        "completed" => Some(VerbOutcome::Completed),
        "passed" => Some(VerbOutcome::Passed),
        "failed" => Some(VerbOutcome::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn only_a_voided_verb_on_a_statement_ref_voids() {
        let id = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0";
        let voiding = |verb: &str, object_type: &str| {
            object(json!({ "verb": { "id": verb }, "object": { "objectType": object_type, "id": id } }))
        };
        assert_eq!(voided_target(&voiding(VOIDED_VERB, "StatementRef")), Some(Uuid::parse_str(id).unwrap()));
        assert_eq!(voided_target(&voiding("http://adlnet.gov/expapi/verbs/attended", "StatementRef")), None);
        assert_eq!(voided_target(&voiding(VOIDED_VERB, "Activity")), None);
    }

    #[test]
    fn outcomes_come_from_the_verbs_last_segment_in_any_vocabulary() {
        assert_eq!(verb_outcome("http://adlnet.gov/expapi/verbs/completed"), Some(VerbOutcome::Completed));
        assert_eq!(verb_outcome("https://w3id.org/xapi/video/verbs/completed"), Some(VerbOutcome::Completed));
        assert_eq!(verb_outcome("http://adlnet.gov/expapi/verbs/passed"), Some(VerbOutcome::Passed));
        assert_eq!(verb_outcome("http://adlnet.gov/expapi/verbs/failed"), Some(VerbOutcome::Failed));
        assert_eq!(verb_outcome("https://w3id.org/xapi/video/verbs/played"), None);
        assert_eq!(verb_outcome("http://example.com/verbs/uncompleted"), None);
    }
}
