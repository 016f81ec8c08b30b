//! What a valid statement is, rule by rule (xAPI 1.0.3 Data §2 and §4, xAPI 2.0.0 /
//! IEEE 9274.1.1 4.2). Each test asserts the rejection and the path of the offending property.

mod common;

use common::*;
use serde_json::{Value, json};
use xapi::{Version, parse_statements};

// ---------------------------------------------------------------------------------------
// The statement itself

#[test]
fn a_minimal_statement_is_accepted() {
    accept(minimal());
}

#[test]
fn a_statement_must_be_a_json_object() {
    reject(json!([minimal()]), "");
    reject(json!("statement"), "");
}

#[test]
fn actor_verb_and_object_are_required() {
    for key in ["actor", "verb", "object"] {
        let e = reject(without(minimal(), &format!("/{key}")), key);
        says(&e, "required");
    }
}

#[test]
fn unknown_statement_properties_are_rejected() {
    reject(with("/dummy", json!("x")), "dummy");
}

#[test]
fn property_names_are_case_sensitive() {
    let mut statement = without(minimal(), "/actor");
    set(&mut statement, "/Actor", json!({"mbox": "mailto:a@example.com"}));
    reject(statement, "Actor");
    reject(with("/Version", json!("1.0.0")), "Version");
}

#[test]
fn null_values_are_rejected() {
    reject(with("/actor/name", Value::Null), "actor.name");
    reject(with("/verb/display", json!({"en-US": null})), "verb.display.en-US");
    reject(with("/context/registration", Value::Null), "context.registration");
    reject(with("/object/definition/moreInfo", Value::Null), "object.definition.moreInfo");
    reject(with("/result", Value::Null), "result");
}

#[test]
fn statement_ids_must_be_uuids_in_standard_form() {
    accept(with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")));
    accept(with("/id", json!("FD41C918-B88B-4B20-A0A5-A4C32391AAA0")));
    for bad in [
        json!("fd41c918b88b4b20a0a5a4c32391aaa0"),
        json!("{fd41c918-b88b-4b20-a0a5-a4c32391aaa0}"),
        json!("AA97B177-9383-4934-8543-0F91A7A028368"),
        json!("MA97B177-9383-4934-8543-0F91A7A02836"),
        json!(""),
        json!(12345),
    ] {
        reject(with("/id", bad), "id");
    }
}

// ---------------------------------------------------------------------------------------
// Actor: Agents

#[test]
fn an_agent_may_be_identified_by_any_one_ifi() {
    for (ifi, value) in [
        ("mbox", json!("mailto:learner@example.com")),
        ("mbox_sha1sum", json!("cd9b00a5611f94eaa7b1661edab976068e364975")),
        ("openid", json!("http://openid.example.org/12345")),
        ("account", json!({"homePage": "https://lms.example.com", "name": "12345"})),
    ] {
        accept(with("/actor", json!({"objectType": "Agent", "name": "Learner", ifi: value})));
    }
}

#[test]
fn an_agent_with_two_ifis_is_rejected() {
    let e = reject(
        with("/actor", json!({"mbox": "mailto:a@example.com", "openid": "http://openid.example.org/a"})),
        "actor",
    );
    says(&e, "exactly one");
}

#[test]
fn an_agent_without_an_ifi_is_rejected() {
    reject(with("/actor", json!({"objectType": "Agent", "name": "Nobody"})), "actor");
}

#[test]
fn mbox_must_be_a_mailto_iri() {
    for bad in ["learner@example.com", "http://example.com/learner", "mailto:should.fail.com", "mailto:"] {
        let e = reject(with("/actor/mbox", json!(bad)), "actor.mbox");
        says(&e, "mailto");
    }
}

#[test]
fn mbox_sha1sum_must_be_forty_hex_characters() {
    let actor = |sum: Value| with("/actor", json!({"mbox_sha1sum": sum}));
    reject(actor(json!("cd9b00a5611f94eaa7b1661edab976068e36497")), "actor.mbox_sha1sum");
    reject(actor(json!("xd9b00a5611f94eaa7b1661edab976068e364975")), "actor.mbox_sha1sum");
    reject(actor(json!(1234)), "actor.mbox_sha1sum");
}

#[test]
fn openid_must_be_an_iri() {
    reject(with("/actor", json!({"openid": "open.id.com/testUser"})), "actor.openid");
    reject(with("/actor", json!({"openid": "ab=c://should.fail.com"})), "actor.openid");
}

#[test]
fn an_account_needs_a_home_page_and_a_name() {
    reject(with("/actor", json!({"account": {"name": "12345"}})), "actor.account.homePage");
    reject(with("/actor", json!({"account": {"homePage": "https://lms.example.com"}})), "actor.account.name");
    reject(
        with("/actor", json!({"account": {"homePage": "https://lms.example.com", "name": 12345}})),
        "actor.account.name",
    );
}

#[test]
fn an_account_home_page_must_be_an_irl() {
    let e = reject(
        with("/actor", json!({"account": {"homePage": "homePage.com/testUser", "name": "1"}})),
        "actor.account.homePage",
    );
    says(&e, "IRL");
}

#[test]
fn unknown_account_properties_are_rejected() {
    let actor = json!({"account": {"homePage": "https://lms.example.com", "name": "1", "id": 7}});
    reject(with("/actor", actor), "actor.account.id");
}

#[test]
fn agent_object_type_values_are_case_sensitive() {
    reject(with("/actor/objectType", json!("agent")), "actor.objectType");
    reject(with("/actor/objectType", json!("Person")), "actor.objectType");
    reject(with("/actor/objectType", json!(1)), "actor.objectType");
}

#[test]
fn an_agent_name_must_be_a_string() {
    reject(with("/actor/name", json!({"first": "Ann"})), "actor.name");
}

#[test]
fn unknown_agent_properties_are_rejected() {
    reject(with("/actor/age", json!(42)), "actor.age");
    // `member` belongs to Groups.
    reject(with("/actor/member", json!([])), "actor.member");
}

// ---------------------------------------------------------------------------------------
// Actor: Groups

#[test]
fn an_identified_group_may_list_members_or_not() {
    accept(with("/actor", json!({"objectType": "Group", "name": "Team", "mbox": "mailto:team@example.com"})));
    accept(with(
        "/actor",
        json!({"objectType": "Group", "account": {"homePage": "https://lms.example.com", "name": "team-7"},
               "member": [{"mbox": "mailto:a@example.com"}, {"objectType": "Agent", "openid": "http://openid.example.org/b"}]}),
    ));
    accept(with("/actor", json!({"objectType": "Group", "mbox": "mailto:team@example.com", "member": []})));
}

#[test]
fn an_anonymous_group_must_list_its_members() {
    let e = reject(with("/actor", json!({"objectType": "Group", "name": "Ad hoc"})), "actor.member");
    says(&e, "anonymous");
    reject(with("/actor", json!({"objectType": "Group", "member": []})), "actor.member");
    accept(with("/actor", json!({"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]})));
}

#[test]
fn an_identified_group_with_two_ifis_is_rejected() {
    let group = json!({"objectType": "Group", "mbox": "mailto:t@example.com", "openid": "http://openid.example.org/t"});
    reject(with("/actor", group), "actor");
}

#[test]
fn a_group_cannot_contain_a_group() {
    let inner = json!({"objectType": "Group", "mbox": "mailto:inner@example.com"});
    let group = json!({"objectType": "Group", "mbox": "mailto:t@example.com", "member": [inner]});
    reject(with("/actor", group), "actor.member[0].objectType");
}

#[test]
fn group_members_need_exactly_one_ifi() {
    let member =
        json!({"mbox": "mailto:b@example.com", "mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"});
    let group = json!({"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}, member]});
    reject(with("/actor", group), "actor.member[1]");
}

#[test]
fn group_members_must_be_an_array_of_agents() {
    reject(
        with("/actor", json!({"objectType": "Group", "member": {"mbox": "mailto:a@example.com"}})),
        "actor.member",
    );
    reject(
        with("/actor", json!({"objectType": "Group", "member": ["mailto:a@example.com"]})),
        "actor.member[0]",
    );
}

// ---------------------------------------------------------------------------------------
// Verb and language maps

#[test]
fn a_verb_needs_an_iri_id() {
    reject(with("/verb", json!({"display": {"en-US": "attempted"}})), "verb.id");
    reject(with("/verb/id", json!("attempted")), "verb.id");
    reject(with("/verb/id", json!("")), "verb.id");
}

#[test]
fn verb_display_must_be_a_language_map() {
    reject(with("/verb/display", json!("attempted")), "verb.display");
    reject(with("/verb/display", json!({"en-US": 5})), "verb.display.en-US");
}

#[test]
fn language_map_keys_must_be_language_tags() {
    let e = reject(with("/verb/display", json!({"en-US": "a", "a12345678": "b"})), "verb.display");
    says(&e, "a12345678");
    says(&e, "RFC 5646");
    accept(with("/verb/display", json!({"zh-Hans-CN": "a", "sr-Latn-RS": "b", "es-419": "c", "tlh": "d"})));
}

#[test]
fn an_empty_language_map_is_accepted() {
    // Data 2.2: "SHOULD NOT" include empty objects; not a reason to reject.
    accept(with("/verb/display", json!({})));
}

// ---------------------------------------------------------------------------------------
// Object: Activities

#[test]
fn an_object_without_object_type_is_an_activity() {
    accept(minimal());
    accept(with("/object/objectType", json!("Activity")));
}

#[test]
fn an_activity_needs_an_iri_id() {
    reject(with("/object", json!({"objectType": "Activity"})), "object.id");
    reject(with("/object/id", json!("www.example.com/meetings/1")), "object.id");
    reject(with("/object/id", json!("ab=c://should.fail.com")), "object.id");
}

#[test]
fn activity_ids_are_accepted_as_any_absolute_iri() {
    for id in [
        "http://example.com/path/../slug",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "tag:example.com,2024:course-1",
        "https://example.com/kurs/übung?lang=de#teil-2",
    ] {
        accept(with("/object/id", json!(id)));
    }
}

#[test]
fn an_unknown_object_type_is_rejected() {
    reject(with("/object/objectType", json!("activity")), "object.objectType");
    reject(with("/object/objectType", json!("Person")), "object.objectType");
}

#[test]
fn an_agent_or_group_object_must_state_its_object_type() {
    let e = reject(with("/object", json!({"mbox": "mailto:a@example.com"})), "object.mbox");
    says(&e, "objectType");
    reject(with("/object", json!({"member": [{"mbox": "mailto:a@example.com"}]})), "object.member");
    accept(with("/object", json!({"objectType": "Agent", "mbox": "mailto:a@example.com"})));
    accept(with("/object", json!({"objectType": "Group", "mbox": "mailto:t@example.com"})));
}

#[test]
fn an_agent_object_with_two_ifis_is_rejected() {
    let agent = json!({"objectType": "Agent", "mbox": "mailto:a@example.com", "openid": "http://openid.example.org/a"});
    reject(with("/object", agent), "object");
}

#[test]
fn activity_definition_values_have_their_types() {
    reject(with("/object/definition", json!("a course")), "object.definition");
    reject(with("/object/definition/name", json!("Course")), "object.definition.name");
    reject(
        with("/object/definition/description", json!({"something": "x"})),
        "object.definition.description",
    );
    reject(with("/object/definition/type", json!("course")), "object.definition.type");
    reject(
        with("/object/definition/moreInfo", json!("virtualmeeting.example.com/345256")),
        "object.definition.moreInfo",
    );
    reject(with("/object/definition/extensions", json!("x")), "object.definition.extensions");
}

#[test]
fn unknown_activity_definition_properties_are_rejected() {
    reject(with("/object/definition/title", json!({"en": "x"})), "object.definition.title");
}

#[test]
fn extension_keys_must_be_iris() {
    let e = reject(
        with("/object/definition/extensions", json!({"not.valid.com/extension": 1})),
        "object.definition.extensions",
    );
    says(&e, "not.valid.com/extension");
    reject(with("/result/extensions", json!({"should fail": 1})), "result.extensions");
    reject(with("/context/extensions", json!({"example.com/extension/wrong": 1})), "context.extensions");
}

#[test]
fn extension_values_may_be_any_json_including_null() {
    let values = json!({
        "http://example.com/ext/null": null, "http://example.com/ext/empty": "", "http://example.com/ext/obj": {},
        "http://example.com/ext/arr": [1, "two", null], "http://example.com/ext/num": 1.5, "http://example.com/ext/bool": false,
        "http://example.com/ext/nested": {"Any": {"Key": [null]}}
    });
    accept(with("/object/definition/extensions", values.clone()));
    accept(with("/result/extensions", values.clone()));
    accept(with("/context/extensions", values));
    accept(with("/context/extensions", json!({})));
}

// ---------------------------------------------------------------------------------------
// Object: interaction Activities

#[test]
fn every_interaction_type_is_accepted_with_its_component_lists() {
    let component = |id: &str| json!({"id": id, "description": {"en-US": id}});
    for (kind, extra) in [
        ("true-false", json!({"correctResponsesPattern": ["true"]})),
        (
            "choice",
            json!({"correctResponsesPattern": ["a[,]b"], "choices": [component("a"), component("b")]}),
        ),
        ("fill-in", json!({"correctResponsesPattern": ["{case_matters=false}Bob"]})),
        ("long-fill-in", json!({"correctResponsesPattern": ["{lang=en}It was the best of times"]})),
        (
            "matching",
            json!({"correctResponsesPattern": ["a[.]1"], "source": [component("a")], "target": [component("1")]}),
        ),
        ("performance", json!({"correctResponsesPattern": ["s1[.]3[:]5"], "steps": [component("s1")]})),
        (
            "sequencing",
            json!({"correctResponsesPattern": ["b[,]a"], "choices": [component("a"), component("b")]}),
        ),
        (
            "likert",
            json!({"correctResponsesPattern": ["likert_3"], "scale": [component("likert_0"), component("likert_3")]}),
        ),
        ("numeric", json!({"correctResponsesPattern": ["4[:]"]})),
        ("other", json!({"correctResponsesPattern": ["(35.937432,-86.868896)"]})),
    ] {
        accept(interaction(kind, extra));
    }
}

#[test]
fn interaction_type_must_be_one_of_the_defined_values() {
    reject(interaction("Choice", json!({})), "object.definition.interactionType");
    reject(interaction("http://example.com/choice", json!({})), "object.definition.interactionType");
    reject(with("/object/definition/interactionType", json!(5)), "object.definition.interactionType");
}

#[test]
fn interaction_properties_require_an_interaction_type() {
    let component = json!([{"id": "a"}]);
    for (key, value) in [
        ("correctResponsesPattern", json!(["a"])),
        ("choices", component.clone()),
        ("scale", component.clone()),
        ("source", component.clone()),
        ("target", component.clone()),
        ("steps", component),
    ] {
        let e =
            reject(with(&format!("/object/definition/{key}"), value), "object.definition.interactionType");
        says(&e, key);
    }
}

#[test]
fn component_lists_must_suit_the_interaction_type() {
    let list = json!([{"id": "a"}]);
    let e = reject(interaction("choice", json!({"scale": list})), "object.definition.scale");
    says(&e, "choice");
    reject(interaction("likert", json!({"choices": list})), "object.definition.choices");
    reject(interaction("matching", json!({"steps": list})), "object.definition.steps");
    reject(interaction("performance", json!({"source": list})), "object.definition.source");
    reject(interaction("sequencing", json!({"target": list})), "object.definition.target");
    for kind in ["true-false", "fill-in", "long-fill-in", "numeric", "other"] {
        reject(interaction(kind, json!({"choices": list})), "object.definition.choices");
    }
}

#[test]
fn component_ids_must_be_unique_within_a_list() {
    let choices = json!([{"id": "a"}, {"id": "b"}, {"id": "a"}]);
    let e = reject(interaction("choice", json!({"choices": choices})), "object.definition.choices[2].id");
    says(&e, "choices[0]");
}

#[test]
fn the_same_component_id_may_appear_in_different_lists() {
    accept(interaction("matching", json!({"source": [{"id": "x"}], "target": [{"id": "x"}]})));
}

#[test]
fn an_interaction_component_needs_a_string_id_and_nothing_unknown() {
    reject(
        interaction("choice", json!({"choices": [{"description": {"en": "A"}}]})),
        "object.definition.choices[0].id",
    );
    reject(interaction("choice", json!({"choices": [{"id": 1}]})), "object.definition.choices[0].id");
    reject(
        interaction("choice", json!({"choices": [{"id": "a", "label": "A"}]})),
        "object.definition.choices[0].label",
    );
    reject(
        interaction("choice", json!({"choices": [{"id": "a", "description": {"en_US": "A"}}]})),
        "object.definition.choices[0].description",
    );
}

#[test]
fn correct_responses_pattern_is_an_array_of_strings() {
    reject(
        interaction("numeric", json!({"correctResponsesPattern": "4"})),
        "object.definition.correctResponsesPattern",
    );
    reject(
        interaction("numeric", json!({"correctResponsesPattern": [4]})),
        "object.definition.correctResponsesPattern[0]",
    );
    // An empty pattern means "no answer is correct" (Data 2.4.4.1).
    accept(interaction("true-false", json!({"correctResponsesPattern": []})));
}

// ---------------------------------------------------------------------------------------
// Object: StatementRef and SubStatement

#[test]
fn a_statement_ref_needs_a_uuid_id() {
    reject(with("/object", json!({"objectType": "StatementRef"})), "object.id");
    reject(with("/object", json!({"objectType": "StatementRef", "id": "should fail"})), "object.id");
    reject(
        with("/object", json!({"objectType": "statementref", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"})),
        "object.objectType",
    );
    accept(with(
        "/object",
        json!({"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}),
    ));
}

#[test]
fn a_statement_ref_has_no_other_properties() {
    let object =
        json!({"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0", "definition": {}});
    reject(with("/object", object), "object.definition");
}

fn sub_statement() -> Value {
    json!({
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:learner@example.com"},
        "verb": {"id": "http://example.com/verbs/planned"},
        "object": {"id": "http://example.com/activities/website"}
    })
}

#[test]
fn a_sub_statement_is_accepted() {
    accept(with("/object", sub_statement()));
}

#[test]
fn a_sub_statement_cannot_contain_a_sub_statement() {
    let nested = edit(sub_statement(), "/object", sub_statement());
    reject(with("/object", nested), "object.object.objectType");
}

#[test]
fn a_sub_statement_cannot_have_id_stored_version_or_authority() {
    for (key, value) in [
        ("id", json!("8f87ccde-bb56-4c2e-ab83-44982ef22df0")),
        ("stored", json!("2024-03-12T09:41:00Z")),
        ("version", json!("1.0.0")),
        ("authority", json!({"mbox": "mailto:lrs@example.com"})),
    ] {
        let e = reject(
            with("/object", edit(sub_statement(), &format!("/{key}"), value)),
            &format!("object.{key}"),
        );
        says(&e, "SubStatement");
    }
}

#[test]
fn a_sub_statement_is_validated_like_a_statement() {
    reject(with("/object", without(sub_statement(), "/verb")), "object.verb");
    reject(with("/object", edit(sub_statement(), "/actor/mbox", json!("nobody"))), "object.actor.mbox");
    let e = reject(
        with("/object", edit(sub_statement(), "/object", json!({"mbox": "mailto:a@example.com"}))),
        "object.object.mbox",
    );
    says(&e, "objectType");
    reject(
        with("/object", edit(sub_statement(), "/result/score/scaled", json!(2))),
        "object.result.score.scaled",
    );
    reject(with("/object", edit(sub_statement(), "/timestamp", json!("yesterday"))), "object.timestamp");
    let agent_object =
        edit(sub_statement(), "/object", json!({"objectType": "Agent", "mbox": "mailto:a@example.com"}));
    reject(with("/object", edit(agent_object, "/context/platform", json!("web"))), "object.context.platform");
}

#[test]
fn a_sub_statement_may_have_a_future_timestamp_and_attachments() {
    let sub = edit(sub_statement(), "/timestamp", json!("2999-01-01T00:00:00Z"));
    let sub = edit(sub, "/attachments", json!([attachment()]));
    accept(with("/object", sub));
}

// ---------------------------------------------------------------------------------------
// Result

#[test]
fn scaled_score_lies_between_minus_one_and_one() {
    accept(with("/result/score/scaled", json!(-1)));
    accept(with("/result/score/scaled", json!(1.0)));
    let e = reject(with("/result/score/scaled", json!(1.01)), "result.score.scaled");
    says(&e, "at most 1");
    reject(with("/result/score/scaled", json!(-1.00001)), "result.score.scaled");
}

#[test]
fn raw_score_lies_between_min_and_max() {
    accept(with("/result/score", json!({"raw": 0, "min": 0, "max": 100})));
    accept(with("/result/score", json!({"raw": 100, "min": 0, "max": 100})));
    accept(with("/result/score", json!({"raw": -5})));
    reject(with("/result/score", json!({"raw": -1, "min": 0, "max": 100})), "result.score.raw");
    reject(with("/result/score", json!({"raw": 101, "min": 0, "max": 100})), "result.score.raw");
    reject(with("/result/score", json!({"raw": 101, "max": 100})), "result.score.raw");
}

#[test]
fn min_score_is_less_than_max() {
    let e = reject(with("/result/score", json!({"min": 104.6, "max": 100.6})), "result.score.min");
    says(&e, "less than max");
    reject(with("/result/score", json!({"min": 5, "max": 5})), "result.score.min");
}

#[test]
fn scores_are_numbers_not_strings() {
    reject(with("/result/score/max", json!("100")), "result.score.max");
    reject(with("/result/score", json!("95")), "result.score");
}

#[test]
fn result_flags_are_booleans_and_response_is_a_string() {
    reject(with("/result/success", json!("true")), "result.success");
    reject(with("/result/completion", json!(1)), "result.completion");
    reject(with("/result/response", json!(42)), "result.response");
    accept(with("/result", json!({"success": false, "completion": true, "response": ""})));
}

#[test]
fn result_duration_is_an_iso_8601_duration() {
    for good in ["PT4H35M59.14S", "PT16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "P1DT12H36M0.12567S"] {
        accept(with("/result/duration", json!(good)));
    }
    for bad in [json!("P4W1D"), json!("PA1H0M0S"), json!("4 hours"), json!("P0003-01-29T04:35:59"), json!(12)]
    {
        reject(with("/result/duration", bad), "result.duration");
    }
}

#[test]
fn unknown_result_properties_are_rejected() {
    reject(with("/result/grade", json!("A")), "result.grade");
    reject(with("/result/score/percent", json!(50)), "result.score.percent");
}

// ---------------------------------------------------------------------------------------
// Context

#[test]
fn registration_is_a_uuid() {
    accept(with("/context/registration", json!("ec531277-b57b-4c15-8d91-d292c5b2b8f7")));
    reject(with("/context/registration", json!("ec531277")), "context.registration");
}

#[test]
fn instructor_is_an_agent_or_a_group() {
    accept(with("/context/instructor", json!({"mbox": "mailto:teacher@example.com"})));
    accept(with(
        "/context/instructor",
        json!({"objectType": "Group", "member": [{"mbox": "mailto:t@example.com"}]}),
    ));
    reject(with("/context/instructor", json!({"name": "Teacher"})), "context.instructor");
}

#[test]
fn team_is_a_group() {
    accept(with("/context/team", json!({"objectType": "Group", "mbox": "mailto:team@example.com"})));
    reject(
        with("/context/team", json!({"objectType": "Agent", "mbox": "mailto:a@example.com"})),
        "context.team.objectType",
    );
    let e = reject(with("/context/team", json!({"mbox": "mailto:a@example.com"})), "context.team.objectType");
    says(&e, "Group");
    reject(with("/context/team", json!({"objectType": "Group"})), "context.team.member");
}

#[test]
fn context_activities_accept_only_parent_grouping_category_and_other() {
    let activity = json!({"id": "http://example.com/activities/course"});
    for key in ["parent", "grouping", "category", "other"] {
        accept(with(&format!("/context/contextActivities/{key}"), json!([activity])));
    }
    reject(
        with("/context/contextActivities/consequences", json!([activity])),
        "context.contextActivities.consequences",
    );
}

#[test]
fn a_single_context_activity_is_accepted_and_kept_as_an_array() {
    let activity = json!({"id": "http://example.com/activities/course"});
    for version in BOTH {
        let parsed = accept_in(with("/context/contextActivities/parent", activity.clone()), version);
        assert_eq!(parsed.json()["context"]["contextActivities"]["parent"], json!([activity]));
    }
    // Inside a SubStatement too.
    let sub = edit(sub_statement(), "/context/contextActivities/grouping", activity.clone());
    let parsed = accept_in(with("/object", sub), Version::V2_0);
    assert_eq!(parsed.json()["object"]["context"]["contextActivities"]["grouping"], json!([activity]));
}

#[test]
fn context_activities_hold_only_activities() {
    let list = json!([{"id": "http://example.com/a"}, {"key": "should fail"}]);
    reject(with("/context/contextActivities/other", list), "context.contextActivities.other[1].key");
    let e = reject(
        with("/context/contextActivities/other", json!("http://example.com/a")),
        "context.contextActivities.other",
    );
    says(&e, "array of Activities");
    reject(
        with(
            "/context/contextActivities/other",
            json!([{"objectType": "Agent", "mbox": "mailto:a@example.com"}]),
        ),
        "context.contextActivities.other[0].objectType",
    );
    // An empty list names no context activity; it is not an error.
    accept(with("/context/contextActivities/other", json!([])));
}

#[test]
fn revision_and_platform_need_an_activity_object() {
    for key in ["revision", "platform"] {
        let agent = with("/object", json!({"objectType": "Agent", "mbox": "mailto:a@example.com"}));
        let e = reject(edit(agent, &format!("/context/{key}"), json!("x")), &format!("context.{key}"));
        says(&e, "Activity");
        let statement_ref = with(
            "/object",
            json!({"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"}),
        );
        reject(edit(statement_ref, &format!("/context/{key}"), json!("x")), &format!("context.{key}"));
        reject(
            edit(with("/object", sub_statement()), &format!("/context/{key}"), json!("x")),
            &format!("context.{key}"),
        );
        accept(with(&format!("/context/{key}"), json!("x")));
    }
}

#[test]
fn context_language_is_a_language_tag() {
    accept(with("/context/language", json!("tlh")));
    reject(with("/context/language", json!("something")), "context.language");
    reject(with("/context/language", json!({"en": "x"})), "context.language");
}

#[test]
fn context_statement_is_a_statement_ref() {
    accept(with(
        "/context/statement",
        json!({"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}),
    ));
    reject(
        with(
            "/context/statement",
            json!({"objectType": "SubStatement", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}),
        ),
        "context.statement.objectType",
    );
    reject(
        with("/context/statement", json!({"objectType": "StatementRef", "id": "6690e6c9"})),
        "context.statement.id",
    );
}

#[test]
fn unknown_context_properties_are_rejected() {
    reject(with("/context/location", json!("Paris")), "context.location");
}

// ---------------------------------------------------------------------------------------
// Context agents and groups (xAPI 2.0.0)

fn context_agent() -> Value {
    json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.com"},
           "relevantTypes": ["https://example.com/xapi/types/coach"]})
}

fn context_group() -> Value {
    json!({"objectType": "contextGroup", "group": {"objectType": "Group", "mbox": "mailto:team@example.com"},
           "relevantTypes": ["https://example.com/xapi/types/team"]})
}

#[test]
fn context_agents_and_groups_are_accepted_in_xapi_2_0() {
    let statement =
        with("/context/contextAgents", json!([context_agent(), without(context_agent(), "/relevantTypes")]));
    let statement = edit(statement, "/context/contextGroups", json!([context_group()]));
    accept_in(statement, Version::V2_0);
}

#[test]
fn context_agents_and_groups_are_rejected_in_xapi_1_0_3() {
    let e = reject_in(
        with("/context/contextAgents", json!([context_agent()])),
        Version::V1_0,
        "context.contextAgents",
    );
    says(&e, "2.0");
    reject_in(
        with("/context/contextGroups", json!([context_group()])),
        Version::V1_0,
        "context.contextGroups",
    );
}

#[test]
fn a_context_agent_needs_its_object_type_and_an_agent() {
    let v2 = Version::V2_0;
    let list = |entry: Value| with("/context/contextAgents", json!([entry]));
    reject_in(
        list(edit(context_agent(), "/objectType", json!("Agent"))),
        v2,
        "context.contextAgents[0].objectType",
    );
    reject_in(list(without(context_agent(), "/objectType")), v2, "context.contextAgents[0].objectType");
    reject_in(list(without(context_agent(), "/agent")), v2, "context.contextAgents[0].agent");
    reject_in(
        list(edit(context_agent(), "/agent", json!({"key": "x"}))),
        v2,
        "context.contextAgents[0].agent.key",
    );
    let group = json!({"objectType": "Group", "mbox": "mailto:team@example.com"});
    reject_in(list(edit(context_agent(), "/agent", group)), v2, "context.contextAgents[0].agent.objectType");
    let two_ifis = json!({"mbox": "mailto:a@example.com", "openid": "http://openid.example.org/a"});
    reject_in(list(edit(context_agent(), "/agent", two_ifis)), v2, "context.contextAgents[0].agent");
    reject_in(with("/context/contextAgents", context_agent()), v2, "context.contextAgents");
}

#[test]
fn relevant_types_are_a_non_empty_list_of_iris() {
    let v2 = Version::V2_0;
    let list = |entry: Value| with("/context/contextAgents", json!([entry]));
    let e = reject_in(
        list(edit(context_agent(), "/relevantTypes", json!([]))),
        v2,
        "context.contextAgents[0].relevantTypes",
    );
    says(&e, "empty");
    reject_in(
        list(edit(context_agent(), "/relevantTypes", json!(["abc"]))),
        v2,
        "context.contextAgents[0].relevantTypes[0]",
    );
    let groups = with("/context/contextGroups", json!([edit(context_group(), "/relevantTypes", json!([]))]));
    reject_in(groups, v2, "context.contextGroups[0].relevantTypes");
}

#[test]
fn a_context_group_needs_its_object_type_and_a_group() {
    let v2 = Version::V2_0;
    let list = |entry: Value| with("/context/contextGroups", json!([entry]));
    reject_in(
        list(edit(context_group(), "/objectType", json!("contextAgent"))),
        v2,
        "context.contextGroups[0].objectType",
    );
    reject_in(
        list(edit(context_group(), "/group", json!({"mbox": "mailto:a@example.com"}))),
        v2,
        "context.contextGroups[0].group.objectType",
    );
    reject_in(
        list(edit(context_group(), "/group", json!({"objectType": "Group"}))),
        v2,
        "context.contextGroups[0].group.member",
    );
    let member =
        json!({"objectType": "Group", "mbox": "mailto:team@example.com", "member": [{"name": "no ifi"}]});
    reject_in(list(edit(context_group(), "/group", member)), v2, "context.contextGroups[0].group.member[0]");
}

#[test]
fn context_agents_in_a_sub_statement_follow_the_same_rules() {
    let sub = edit(sub_statement(), "/context/contextAgents", json!([context_agent()]));
    accept_in(with("/object", sub.clone()), Version::V2_0);
    reject_in(with("/object", sub), Version::V1_0, "object.context.contextAgents");
}

// ---------------------------------------------------------------------------------------
// Timestamps, stored, version

#[test]
fn timestamps_are_iso_8601() {
    for good in [
        "2024-03-12T09:41:00Z",
        "2024-03-12T09:41Z",
        "20240312T094100.5Z",
        "2024-03-12T09:41:00.123456Z",
        "2008-09-15T15:53:00.601+00:00",
        "2023-05-04T12:00:00-05:00",
        "2024-03-12T10:41:00+0100",
    ] {
        accept(with("/timestamp", json!(good)));
    }
    for bad in ["should fail", "01/011/2015", "2024-02-30T09:41:00Z", "2024-03-12", "2024-03-12T09"] {
        let e = reject(with("/timestamp", json!(bad)), "timestamp");
        says(&e, "ISO 8601");
    }
    reject(with("/timestamp", json!(1710236460)), "timestamp");
}

#[test]
fn a_negative_zero_offset_is_rejected() {
    for bad in ["2008-09-15T15:53:00.601-00", "2008-09-15T15:53:00.601-0000", "2008-09-15T15:53:00.601-00:00"]
    {
        reject(with("/timestamp", json!(bad)), "timestamp");
        reject(with("/object", edit(sub_statement(), "/timestamp", json!(bad))), "object.timestamp");
    }
}

#[test]
fn a_timestamp_without_an_offset_is_accepted_in_1_0_3_and_rejected_in_2_0() {
    // 1.0.3 Data 4.5: a Timestamp SHOULD* include the time zone; 2.0.0 requires it.
    accept_in(with("/timestamp", json!("2024-03-12T09:41:00.123")), Version::V1_0);
    reject_in(with("/timestamp", json!("2024-03-12T09:41:00.123")), Version::V2_0, "timestamp");
}

#[test]
fn future_timestamps_are_accepted() {
    accept(with("/timestamp", json!("2999-12-31T23:59:59.999Z")));
}

#[test]
fn stored_is_a_timestamp() {
    accept(with("/stored", json!("2011-07-15T00:00:00Z")));
    reject(with("/stored", json!("July 15th")), "stored");
}

#[test]
fn statement_version_must_be_1_0_x_or_under_2_0_also_2_0_x() {
    for good in ["1.0", "1.0.0", "1.0.3", "1.0.9"] {
        accept(with("/version", json!(good)));
    }
    accept_in(with("/version", json!("2.0.0")), Version::V2_0);
    reject_in(with("/version", json!("2.0.0")), Version::V1_0, "version");
    for bad in [json!("should fail"), json!("0.9.9"), json!("1.1.0"), json!("1.0.x"), json!(1.0)] {
        reject(with("/version", bad), "version");
    }
}

// ---------------------------------------------------------------------------------------
// Authority

#[test]
fn an_agent_authority_is_accepted() {
    accept(with("/authority", json!({"objectType": "Agent", "mbox": "mailto:lrs@example.com"})));
}

#[test]
fn a_three_legged_oauth_authority_is_an_anonymous_group_of_two_agents() {
    let authority = json!({"objectType": "Group", "member": [
        {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}},
        {"mbox": "mailto:bob@example.com"}
    ]});
    accept(with("/authority", authority.clone()));
    let identified = edit(authority.clone(), "/mbox", json!("mailto:group@example.com"));
    let e = reject(with("/authority", identified), "authority");
    says(&e, "anonymous");
    let three = json!({"objectType": "Group", "member": [
        {"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}, {"mbox": "mailto:c@example.com"}
    ]});
    let e = reject(with("/authority", three), "authority.member");
    says(&e, "exactly two");
    reject(
        with("/authority", json!({"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]})),
        "authority.member",
    );
    reject(with("/authority", json!({"objectType": "Group", "name": "Group Anonymous"})), "authority.member");
}

#[test]
fn an_authority_follows_the_agent_rules() {
    reject(
        with("/authority", json!({"objectType": "agent", "mbox": "mailto:lrs@example.com"})),
        "authority.objectType",
    );
    reject(
        with(
            "/authority",
            json!({"mbox": "mailto:lrs@example.com", "openid": "http://openid.example.org/lrs"}),
        ),
        "authority",
    );
}

// ---------------------------------------------------------------------------------------
// Attachments

fn attachment() -> Value {
    json!({
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"},
        "description": {"en-US": "A test attachment"},
        "contentType": "application/octet-stream",
        "length": 4235,
        "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a",
        "fileUrl": "https://example.com/files/signature.jws"
    })
}

#[test]
fn an_attachment_with_all_its_properties_is_accepted() {
    accept(with("/attachments", json!([attachment()])));
    accept(with("/attachments", json!([without(attachment(), "/fileUrl")])));
    accept(with(
        "/attachments",
        json!([edit(attachment(), "/contentType", json!("text/plain; charset=ascii"))]),
    ));
}

#[test]
fn attachments_are_an_array_of_objects() {
    reject(with("/attachments", attachment()), "attachments");
    reject(with("/attachments", json!(["should fail"])), "attachments[0]");
}

#[test]
fn an_attachment_needs_usage_type_display_content_type_length_and_sha2() {
    for key in ["usageType", "display", "contentType", "length", "sha2"] {
        let e = reject(
            with("/attachments", json!([without(attachment(), &format!("/{key}"))])),
            &format!("attachments[0].{key}"),
        );
        says(&e, "required");
    }
}

#[test]
fn attachment_properties_have_their_formats() {
    let one = |key: &str, value: Value| {
        with("/attachments", json!([edit(attachment(), &format!("/{key}"), value)]))
    };
    reject(one("usageType", json!("signature")), "attachments[0].usageType");
    reject(one("display", json!("Signature")), "attachments[0].display");
    reject(one("description", json!({"en_US": "x"})), "attachments[0].description");
    reject(one("contentType", json!("octet-stream")), "attachments[0].contentType");
    reject(one("contentType", json!(12345)), "attachments[0].contentType");
    reject(one("length", json!(-1)), "attachments[0].length");
    reject(one("length", json!(1.5)), "attachments[0].length");
    reject(one("length", json!("27")), "attachments[0].length");
    reject(one("sha2", json!("not a hash")), "attachments[0].sha2");
    reject(one("sha2", json!(12345)), "attachments[0].sha2");
    reject(one("fileUrl", json!("should fail")), "attachments[0].fileUrl");
    reject(one("title", json!("x")), "attachments[0].title");
}

// ---------------------------------------------------------------------------------------
// Voiding

#[test]
fn a_voiding_statement_targets_a_statement_ref() {
    let voiding = with("/verb/id", json!("http://adlnet.gov/expapi/verbs/voided"));
    let e = reject(voiding.clone(), "object.objectType");
    says(&e, "StatementRef");
    let parsed = accept_in(
        edit(
            voiding,
            "/object",
            json!({"objectType": "StatementRef", "id": "e05aa883-acaf-40ad-bf54-02c8ce485fb0"}),
        ),
        Version::V2_0,
    );
    assert_eq!(
        parsed.facts().voids.map(|id| id.to_string()).as_deref(),
        Some("e05aa883-acaf-40ad-bf54-02c8ce485fb0")
    );
}

// ---------------------------------------------------------------------------------------
// Request bodies

#[test]
fn a_batch_error_names_the_statement_index() {
    let body = serde_json::to_vec(&json!([minimal(), with("/verb/id", json!("should fail"))])).unwrap();
    let e = parse_statements(&body, Version::V2_0).unwrap_err();
    assert_eq!(e.path, "[1].verb.id");
    assert_eq!(e.to_string(), format!("[1].verb.id: {}", e.message));
}

#[test]
fn a_batch_may_not_repeat_a_statement_id() {
    let id = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0";
    let body = serde_json::to_vec(&json!([
        with("/id", json!(id)),
        minimal(),
        with("/id", json!(id.to_uppercase()))
    ]))
    .unwrap();
    let e = parse_statements(&body, Version::V2_0).unwrap_err();
    assert_eq!(e.path, "[2].id");
    says(&e, "[0]");
}

#[test]
fn a_batch_of_valid_statements_is_parsed_in_order() {
    let body = serde_json::to_vec(&json!([minimal(), with("/verb/id", json!("http://example.com/verbs/b"))]))
        .unwrap();
    let statements = parse_statements(&body, Version::V1_0).unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[1].facts().verb, "http://example.com/verbs/b");
}

#[test]
fn an_empty_batch_is_rejected() {
    let e = parse_statements(b"[]", Version::V2_0).unwrap_err();
    assert_eq!(e.path, "");
}

#[test]
fn a_body_that_is_not_json_is_rejected() {
    let e = parse_statements(b"{\"actor\": ", Version::V2_0).unwrap_err();
    assert_eq!(e.path, "");
    says(&e, "JSON");
}

#[test]
fn a_statement_passes_validation_unchanged_apart_from_context_activity_arrays() {
    let statement = with("/result/score/raw", json!(12.125));
    let parsed = accept_in(statement.clone(), Version::V2_0);
    assert_eq!(Value::Object(parsed.json().clone()), statement);
}
