//! The `format` query parameter: `exact`, `ids` and `canonical` (xAPI 1.0.3 Communication
//! §2.1.3).

use serde_json::{Map, Value, json};
use xapi::{Format, LanguagePreferences, Version, format_for_version, format_statement};

fn stored() -> Value {
    json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered", "en-GB": "answered (GB)", "fr": "a répondu"}},
        "object": {
            "objectType": "Activity",
            "id": "http://example.com/quiz/q1",
            "definition": {
                "name": {"en-US": "Question 1", "fr": "Question 1 (fr)"},
                "description": {"en-US": "Pick one", "fr": "Choisissez"},
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "choice",
                "correctResponsesPattern": ["a"],
                "choices": [{"id": "a", "description": {"en-US": "Apple", "fr": "Pomme"}}, {"id": "b", "description": {"en-US": "Pear"}}],
                "extensions": {"http://example.com/ext": {"en-US": "not a language map to reduce", "fr": "x"}}
            }
        },
        "result": {"success": true, "response": "a"},
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "instructor": {"objectType": "Agent", "name": "Teacher", "account": {"homePage": "https://lms.example.com", "name": "t1"}},
            "team": {"objectType": "Group", "name": "Blue", "mbox": "mailto:blue@example.com", "member": [{"mbox": "mailto:ann@example.com"}]},
            "contextActivities": {
                "parent": [{"objectType": "Activity", "id": "http://example.com/quiz", "definition": {"name": {"en-US": "Quiz", "fr": "Quiz (fr)"}}}],
                "category": [{"id": "http://example.com/profile"}]
            },
            "contextAgents": [{"objectType": "contextAgent", "agent": {"name": "Proctor", "mbox": "mailto:p@example.com"}, "relevantTypes": ["http://example.com/proctor"]}],
            "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "name": "Anon", "member": [{"name": "X", "mbox": "mailto:x@example.com"}]}}],
            "extensions": {"http://example.com/ctx": 1}
        },
        "timestamp": "2024-03-12T09:41:00.000Z",
        "stored": "2024-03-12T09:41:01.000Z",
        "authority": {"objectType": "Group", "member": [
            {"name": "App", "account": {"homePage": "https://lrs.example.com/oauth", "name": "consumer"}},
            {"name": "Ann", "mbox": "mailto:ann@example.com"}
        ]},
        "version": "2.0.0",
        "attachments": [{
            "usageType": "http://example.com/usage", "display": {"en-US": "Certificate", "fr": "Certificat"},
            "description": {"en-US": "Proof", "fr": "Preuve"}, "contentType": "application/pdf", "length": 1,
            "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
        }]
    })
}

fn formatted(statement: Value, format: Format, accept_language: &str) -> Value {
    let mut map: Map<String, Value> = statement.as_object().cloned().expect("an object");
    format_statement(&mut map, format, &LanguagePreferences::from_header(accept_language));
    Value::Object(map)
}

#[test]
fn format_names_are_parsed_exactly() {
    assert_eq!(Format::parse("ids"), Some(Format::Ids));
    assert_eq!(Format::parse("exact"), Some(Format::Exact));
    assert_eq!(Format::parse("canonical"), Some(Format::Canonical));
    assert_eq!(Format::parse("Exact"), None);
    assert_eq!(Format::default(), Format::Exact);
}

#[test]
fn exact_leaves_the_statement_unchanged() {
    assert_eq!(formatted(stored(), Format::Exact, "fr"), stored());
}

#[test]
fn ids_keeps_only_identifiers() {
    let ids = formatted(stored(), Format::Ids, "");
    assert_eq!(ids["actor"], json!({"objectType": "Agent", "mbox": "mailto:ann@example.com"}));
    assert_eq!(ids["verb"], json!({"id": "http://adlnet.gov/expapi/verbs/answered"}));
    assert_eq!(ids["object"], json!({"id": "http://example.com/quiz/q1"}));
    assert_eq!(
        ids["context"]["instructor"],
        json!({"objectType": "Agent", "account": {"homePage": "https://lms.example.com", "name": "t1"}})
    );
    assert_eq!(ids["context"]["contextActivities"]["parent"], json!([{"id": "http://example.com/quiz"}]));
    assert_eq!(ids["context"]["contextAgents"][0]["agent"], json!({"mbox": "mailto:p@example.com"}));
    assert_eq!(ids["context"]["contextAgents"][0]["relevantTypes"], json!(["http://example.com/proctor"]));
}

#[test]
fn ids_drops_the_members_of_identified_groups() {
    let ids = formatted(stored(), Format::Ids, "");
    assert_eq!(ids["context"]["team"], json!({"objectType": "Group", "mbox": "mailto:blue@example.com"}));
}

#[test]
fn ids_keeps_anonymous_groups_members_in_ids_form() {
    let ids = formatted(stored(), Format::Ids, "");
    assert_eq!(
        ids["authority"],
        json!({"objectType": "Group", "member": [
            {"account": {"homePage": "https://lrs.example.com/oauth", "name": "consumer"}},
            {"mbox": "mailto:ann@example.com"}
        ]})
    );
    assert_eq!(
        ids["context"]["contextGroups"][0]["group"],
        json!({"objectType": "Group", "member": [{"mbox": "mailto:x@example.com"}]})
    );
}

#[test]
fn ids_leaves_everything_else_alone() {
    let ids = formatted(stored(), Format::Ids, "");
    let original = stored();
    for key in ["id", "result", "timestamp", "stored", "version", "attachments"] {
        assert_eq!(ids[key], original[key], "{key}");
    }
    assert_eq!(ids["context"]["registration"], original["context"]["registration"]);
    assert_eq!(ids["context"]["extensions"], original["context"]["extensions"]);
}

#[test]
fn ids_applies_inside_a_sub_statement() {
    let statement = json!({
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://example.com/verbs/planned", "display": {"en": "planned"}},
        "object": {
            "objectType": "SubStatement",
            "actor": {"objectType": "Group", "name": "G", "mbox": "mailto:g@example.com", "member": [{"mbox": "mailto:b@example.com"}]},
            "verb": {"id": "http://example.com/verbs/visit", "display": {"en": "visit"}},
            "object": {"objectType": "Activity", "id": "http://example.com/site", "definition": {"name": {"en": "Site"}}},
            "context": {"instructor": {"name": "T", "mbox": "mailto:t@example.com"}}
        }
    });
    let ids = formatted(statement, Format::Ids, "");
    assert_eq!(
        ids["object"],
        json!({
            "objectType": "SubStatement",
            "actor": {"objectType": "Group", "mbox": "mailto:g@example.com"},
            "verb": {"id": "http://example.com/verbs/visit"},
            "object": {"id": "http://example.com/site"},
            "context": {"instructor": {"mbox": "mailto:t@example.com"}}
        })
    );
}

#[test]
fn ids_keeps_agent_and_statement_ref_objects_identifiable() {
    let agent_object = json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://example.com/v"},
        "object": {"objectType": "Agent", "name": "Jeff", "mbox": "mailto:jeff@example.com"}});
    assert_eq!(
        formatted(agent_object, Format::Ids, "")["object"],
        json!({"objectType": "Agent", "mbox": "mailto:jeff@example.com"})
    );
    let reference = json!({"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"});
    let statement_ref = json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://example.com/v"}, "object": reference});
    assert_eq!(formatted(statement_ref, Format::Ids, "")["object"], reference);
}

#[test]
fn canonical_keeps_one_language_in_every_language_map() {
    let c = formatted(stored(), Format::Canonical, "fr-CA, en;q=0.5");
    assert_eq!(c["verb"]["display"], json!({"fr": "a répondu"}));
    let definition = &c["object"]["definition"];
    assert_eq!(definition["name"], json!({"fr": "Question 1 (fr)"}));
    assert_eq!(definition["description"], json!({"fr": "Choisissez"}));
    assert_eq!(definition["choices"][0]["description"], json!({"fr": "Pomme"}));
    // A map without the preferred language still keeps exactly one entry.
    assert_eq!(definition["choices"][1]["description"], json!({"en-US": "Pear"}));
    assert_eq!(
        c["context"]["contextActivities"]["parent"][0]["definition"]["name"],
        json!({"fr": "Quiz (fr)"})
    );
    assert_eq!(c["attachments"][0]["display"], json!({"fr": "Certificat"}));
    assert_eq!(c["attachments"][0]["description"], json!({"fr": "Preuve"}));
}

#[test]
fn canonical_keeps_everything_that_is_not_a_language_map() {
    let c = formatted(stored(), Format::Canonical, "en-GB");
    let original = stored();
    assert_eq!(c["actor"], original["actor"]);
    assert_eq!(c["authority"], original["authority"]);
    assert_eq!(c["context"]["team"], original["context"]["team"]);
    assert_eq!(c["object"]["definition"]["extensions"], original["object"]["definition"]["extensions"]);
    assert_eq!(c["object"]["definition"]["correctResponsesPattern"], json!(["a"]));
    assert_eq!(
        c["verb"],
        json!({"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-GB": "answered (GB)"}})
    );
}

#[test]
fn canonical_applies_inside_a_sub_statement() {
    let statement = json!({
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://example.com/verbs/planned", "display": {"en-US": "planned", "en-GB": "planned (GB)"}},
        "object": {
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/verbs/visit", "display": {"en-US": "visit", "en-GB": "visit (GB)"}},
            "object": {"id": "http://example.com/site", "definition": {"name": {"en-US": "Site", "en-GB": "Site (GB)"}}}
        }
    });
    let c = formatted(statement, Format::Canonical, "en-GB");
    assert_eq!(c["verb"]["display"], json!({"en-GB": "planned (GB)"}));
    assert_eq!(c["object"]["verb"]["display"], json!({"en-GB": "visit (GB)"}));
    assert_eq!(c["object"]["object"]["definition"]["name"], json!({"en-GB": "Site (GB)"}));
}

#[test]
fn canonical_without_accept_language_prefers_english() {
    let c = formatted(stored(), Format::Canonical, "");
    assert_eq!(c["verb"]["display"], json!({"en-US": "answered"}));
    let c = formatted(stored(), Format::Canonical, "ja");
    assert_eq!(c["object"]["definition"]["name"], json!({"en-US": "Question 1"}));
}

fn for_version(statement: Value, version: Version) -> Value {
    let mut map: Map<String, Value> = statement.as_object().cloned().expect("an object");
    format_for_version(&mut map, version);
    Value::Object(map)
}

#[test]
fn a_2_0_reader_gets_the_statement_as_stored() {
    assert_eq!(for_version(stored(), Version::V2_0), stored());
}

#[test]
fn a_1_0_reader_does_not_get_context_agents_or_groups() {
    let read = for_version(stored(), Version::V1_0);
    let context = read["context"].as_object().expect("a context");
    assert!(!context.contains_key("contextAgents"));
    assert!(!context.contains_key("contextGroups"));
    // The rest of the context, and of the statement, is untouched.
    let mut expected = stored();
    let expected_context = expected["context"].as_object_mut().expect("a context");
    expected_context.shift_remove("contextAgents");
    expected_context.shift_remove("contextGroups");
    assert_eq!(read, expected);
}

#[test]
fn a_1_0_reader_keeps_the_stored_version() {
    // "Statements returned by an LRS MUST retain the version property they are accepted with."
    assert_eq!(for_version(stored(), Version::V1_0)["version"], json!("2.0.0"));
}

#[test]
fn a_1_0_reader_does_not_get_context_agents_inside_a_sub_statement() {
    let statement = json!({
        "actor": {"mbox": "mailto:coach@example.com"},
        "verb": {"id": "http://example.com/verbs/planned"},
        "object": {
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:player-1@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
            "object": {"id": "https://example.com/xapi/drills/passing"},
            "context": {
                "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.com"}}],
                "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "mbox": "mailto:team@example.com"}}]
            }
        },
        "context": {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:ref@example.com"}}]}
    });
    let read = for_version(statement, Version::V1_0);
    assert_eq!(read["object"]["context"], json!({"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7"}));
    assert_eq!(read["context"], json!({}));
}

#[test]
fn a_1_0_statement_reads_the_same_in_both_versions() {
    let statement = json!({
        "actor": {"mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
        "object": {"id": "http://example.com/course"},
        "context": {"instructor": {"mbox": "mailto:t@example.com"}, "contextActivities": {"parent": [{"id": "http://example.com/p"}]}},
        "version": "1.0.0"
    });
    for version in [Version::V1_0, Version::V2_0] {
        assert_eq!(for_version(statement.clone(), version), statement);
    }
}
