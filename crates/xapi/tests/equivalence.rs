//! Statement comparison for idempotent PUT/POST (xAPI 1.0.3 Data §2.3.1): what is and is not
//! a difference between a re-sent statement and the stored one.

mod common;

use common::*;
use serde_json::{Map, Value, json};
use uuid::Uuid;
use xapi::{Statement, Timestamp, Version, equivalent};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// A rich statement as a client sends it.
fn sent() -> Value {
    json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"objectType": "Group", "name": "Team", "member": [
            {"mbox": "mailto:ann@example.com"}, {"mbox": "mailto:bob@example.com"}, {"openid": "http://openid.example.org/cy"}
        ]},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": "http://example.com/course", "definition": {"name": {"en-US": "Course"}}},
        "result": {"score": {"raw": 8, "max": 10}, "duration": "PT1M30.12S", "extensions": {"http://example.com/ext": {"a": 1}}},
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "contextActivities": {"parent": [{"id": "http://example.com/program"}]},
            "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
            "language": "en-US"
        },
        "timestamp": "2024-03-12T09:41:00.500Z",
        "attachments": [{
            "usageType": "http://example.com/usage/cert", "display": {"en-US": "Certificate"}, "contentType": "application/pdf",
            "length": 10, "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
        }]
    })
}

/// The statement as the LRS stores it: parsed, then finalized with the LRS's properties.
fn stored_from(statement: Value) -> Map<String, Value> {
    let parsed = Statement::parse(statement, Version::V2_0).expect("valid");
    let stored = Timestamp::parse("2024-03-12T09:45:00.123456Z").expect("a timestamp").instant;
    let authority =
        json!({"objectType": "Agent", "account": {"homePage": "https://lrs.example.com", "name": "key-1"}});
    let id = parsed.id().unwrap_or_else(Uuid::new_v4);
    serde_json::from_str(&parsed.finalize(id, stored, &authority, Version::V2_0)).expect("JSON")
}

fn candidate(statement: Value) -> Map<String, Value> {
    Statement::parse(statement, Version::V2_0).expect("valid").json().clone()
}

fn same(resent: Value) -> bool {
    equivalent(&candidate(resent), &stored_from(sent()))
}

#[test]
fn the_same_statement_sent_again_is_equivalent() {
    assert!(same(sent()));
}

#[test]
fn properties_the_lrs_sets_are_ignored() {
    let resent = edit(sent(), "/stored", json!("2020-01-01T00:00:00Z"));
    let resent = edit(resent, "/version", json!("1.0.0"));
    let resent = edit(resent, "/authority", json!({"mbox": "mailto:someone-else@example.com"}));
    assert!(same(resent));
}

#[test]
fn a_timestamp_the_lrs_filled_in_is_ignored() {
    let original = without(sent(), "/timestamp");
    let stored = stored_from(original.clone());
    assert!(stored.contains_key("timestamp"));
    assert!(equivalent(&candidate(original), &stored));
}

#[test]
fn two_statements_not_yet_stored_compare_alike_either_way() {
    let with_timestamp = candidate(sent());
    let without_timestamp = candidate(without(sent(), "/timestamp"));
    assert!(equivalent(&with_timestamp, &without_timestamp));
    assert!(equivalent(&without_timestamp, &with_timestamp));
    let other = candidate(edit(sent(), "/result/success", json!(false)));
    assert!(!equivalent(&with_timestamp, &other) && !equivalent(&other, &with_timestamp));
}

#[test]
fn a_different_timestamp_is_a_difference() {
    assert!(!same(edit(sent(), "/timestamp", json!("2024-03-12T09:41:01.500Z"))));
}

#[test]
fn the_same_instant_written_differently_is_not_a_difference() {
    assert!(same(edit(sent(), "/timestamp", json!("2024-03-12T10:41:00.5+01:00"))));
    assert!(same(edit(sent(), "/timestamp", json!("2024-03-12T09:41:00.500000Z"))));
}

#[test]
fn the_order_of_group_members_is_not_a_difference() {
    let members = json!([{"openid": "http://openid.example.org/cy"}, {"mbox": "mailto:ann@example.com"}, {"mbox": "mailto:bob@example.com"}]);
    assert!(same(edit(sent(), "/actor/member", members)));
}

#[test]
fn different_group_members_are_a_difference() {
    let members = json!([{"mbox": "mailto:ann@example.com"}, {"mbox": "mailto:ann@example.com"}, {"openid": "http://openid.example.org/cy"}]);
    assert!(!same(edit(sent(), "/actor/member", members)));
    let fewer = json!([{"mbox": "mailto:ann@example.com"}, {"mbox": "mailto:bob@example.com"}]);
    assert!(!same(edit(sent(), "/actor/member", fewer)));
}

#[test]
fn activity_definitions_and_verb_display_are_not_part_of_the_statement() {
    let resent = edit(
        sent(),
        "/object/definition",
        json!({"name": {"en-US": "Course (2nd edition)"}, "type": "http://example.com/t"}),
    );
    let resent = edit(resent, "/verb/display", json!({"en-GB": "completed", "fr": "a terminé"}));
    let resent =
        edit(resent, "/context/contextActivities/parent/0/definition", json!({"name": {"en": "Program"}}));
    assert!(same(resent));
    assert!(same(without(sent(), "/object/definition")));
}

#[test]
fn a_different_verb_or_activity_id_is_a_difference() {
    assert!(!same(edit(sent(), "/verb/id", json!("http://adlnet.gov/expapi/verbs/passed"))));
    assert!(!same(edit(sent(), "/object/id", json!("http://example.com/course-2"))));
}

#[test]
fn the_case_of_uuids_is_not_a_difference() {
    let resent = edit(sent(), "/context/registration", json!("EC531277-B57B-4C15-8D91-D292C5B2B8F7"));
    let resent = edit(resent, "/context/statement/id", json!("6690E6C9-3EF0-4ED3-8B37-7F3964730BEE"));
    assert!(same(resent));
    assert!(!same(edit(sent(), "/context/registration", json!("ec531277-b57b-4c15-8d91-d292c5b2b8f8"))));
}

#[test]
fn the_case_of_an_email_domain_is_not_a_difference_but_the_local_part_is() {
    let members = |first: &str| json!([{"mbox": first}, {"mbox": "mailto:bob@example.com"}, {"openid": "http://openid.example.org/cy"}]);
    assert!(same(edit(sent(), "/actor/member", members("mailto:ann@EXAMPLE.com"))));
    assert!(!same(edit(sent(), "/actor/member", members("mailto:Ann@example.com"))));
}

#[test]
fn the_case_of_language_tags_is_not_a_difference() {
    let resent = edit(sent(), "/context/language", json!("en-us"));
    let resent = edit(resent, "/attachments/0/display", json!({"EN-us": "Certificate"}));
    assert!(same(resent));
    assert!(!same(edit(sent(), "/attachments/0/display", json!({"en-US": "Certificate!"}))));
}

#[test]
fn the_spelling_of_numbers_is_not_a_difference() {
    let resent = edit(sent(), "/result/score", json!({"raw": 8.0, "max": 1e1}));
    assert!(same(resent));
    assert!(!same(edit(sent(), "/result/score/raw", json!(8.5))));
}

#[test]
fn durations_compare_to_the_hundredth_of_a_second_only() {
    assert!(same(edit(sent(), "/result/duration", json!("PT1M30.1237S"))));
    assert!(same(edit(sent(), "/result/duration", json!("PT1M30.120S"))));
    assert!(!same(edit(sent(), "/result/duration", json!("PT1M30.13S"))));
    // A duration in other units is a different string (Data 2.3.1: not an exception).
    assert!(!same(edit(sent(), "/result/duration", json!("PT90.12S"))));
}

#[test]
fn a_single_context_activity_equals_an_array_of_one() {
    let stored = stored_from(sent());
    let resent =
        edit(sent(), "/context/contextActivities/parent", json!({"id": "http://example.com/program"}));
    let resent = object(resent);
    assert!(equivalent(&resent, &stored));
}

#[test]
fn property_order_is_not_a_difference() {
    let mut reordered = Map::new();
    for (k, v) in object(sent()).into_iter().rev() {
        reordered.insert(k, v);
    }
    assert!(equivalent(&reordered, &stored_from(sent())));
}

#[test]
fn an_added_or_removed_property_is_a_difference() {
    assert!(!same(without(sent(), "/result")));
    assert!(!same(edit(sent(), "/result/success", json!(true))));
    assert!(!same(without(sent(), "/attachments")));
    assert!(!same(edit(sent(), "/actor/name", json!("Team B"))));
}

#[test]
fn extension_values_are_part_of_the_statement() {
    assert!(!same(edit(sent(), "/result/extensions", json!({"http://example.com/ext": {"a": 2}}))));
    assert!(same(edit(sent(), "/result/extensions", json!({"http://example.com/ext": {"a": 1.0}}))));
}

#[test]
fn spelling_out_a_default_object_type_is_a_difference() {
    // Only the exceptions of Data 2.3.1 are ignored; an added "objectType" is a different
    // serialization of the statement.
    assert!(!same(without(sent(), "/object/objectType")));
}

#[test]
fn sub_statements_are_compared_by_the_same_rules() {
    let sub = json!({
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://example.com/verbs/planned", "display": {"en": "planned"}},
        "object": {"id": "http://example.com/course", "definition": {"name": {"en": "Course"}}},
        "timestamp": "2030-01-01T00:00:00Z"
    });
    let original = with("/object", sub.clone());
    let stored = stored_from(original);
    let resent = edit(with("/object", sub.clone()), "/object/verb/display", json!({"de": "geplant"}));
    let resent = edit(resent, "/object/timestamp", json!("2030-01-01T01:00:00+01:00"));
    assert!(equivalent(&candidate(resent), &stored));
    let later = edit(with("/object", sub.clone()), "/object/timestamp", json!("2031-01-01T00:00:00Z"));
    assert!(!equivalent(&candidate(later), &stored));
    let no_timestamp = without(with("/object", sub), "/object/timestamp");
    assert!(!equivalent(&candidate(no_timestamp), &stored));
}
