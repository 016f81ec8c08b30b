//! Statements as real clients send them (cmi5, the video profile, interactions of every type,
//! SubStatements, Groups, attachments, voiding) must pass; plus what the store indexes about
//! them and the `agent` query parameter.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::{Value, json};
use xapi::{AgentKey, Statement, Version, format_for_version, parse_agent_param, parse_statements};

fn fixtures(dir: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable fixture");
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().unwrap_or_default().to_string_lossy().into_owned(), value)
        })
        .collect()
}

#[test]
fn real_world_statements_are_valid_in_both_versions() {
    let statements = fixtures("valid");
    assert!(statements.len() >= 20, "fixtures missing");
    for (name, statement) in statements {
        for version in BOTH {
            if let Err(e) = Statement::parse(statement.clone(), version) {
                panic!("{name} under {version}: {e}");
            }
        }
    }
}

#[test]
fn real_world_xapi_2_0_statements_are_valid_in_2_0_only() {
    for (name, statement) in fixtures("valid-2.0") {
        if let Err(e) = Statement::parse(statement.clone(), Version::V2_0) {
            panic!("{name}: {e}");
        }
        assert!(Statement::parse(statement, Version::V1_0).is_err(), "{name} must be rejected under 1.0.3");
    }
}

#[test]
fn xapi_2_0_statements_formatted_for_a_1_0_reader_are_valid_1_0_3_but_for_their_version() {
    for (name, statement) in fixtures("valid-2.0") {
        let mut read = accept_in(statement, Version::V2_0).json().clone();
        format_for_version(&mut read, Version::V1_0);
        // All but `version`, which the LRS keeps as accepted (`2.0.0`): see format_for_version.
        read.shift_remove("version");
        if let Err(e) = Statement::parse(read.into(), Version::V1_0) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn every_interaction_type_has_a_fixture() {
    let names: Vec<String> = fixtures("valid").into_iter().map(|(name, _)| name).collect();
    for kind in [
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    ] {
        assert!(names.contains(&format!("interaction-{kind}.json")), "{kind}");
    }
}

#[test]
fn a_batch_of_all_fixtures_parses() {
    let all: Vec<Value> = fixtures("valid").into_iter().map(|(_, v)| v).collect();
    let body = serde_json::to_vec(&all).expect("JSON");
    assert_eq!(parse_statements(&body, Version::V2_0).expect("valid batch").len(), all.len());
}

// ---------------------------------------------------------------------------------------
// Index facts

fn key(agent: Value) -> AgentKey {
    AgentKey::of(agent.as_object().expect("an object")).expect("an identified agent")
}

fn fixture(name: &str) -> Statement {
    let (_, statement) = fixtures("valid").into_iter().find(|(n, _)| n == name).expect("fixture");
    accept_in(statement, Version::V2_0)
}

#[test]
fn facts_record_verb_registration_and_activities() {
    let parsed = fixture("cmi5-passed.json");
    let facts = parsed.facts();
    assert_eq!(facts.verb, "http://adlnet.gov/expapi/verbs/passed");
    assert_eq!(
        facts.registration.map(|r| r.to_string()).as_deref(),
        Some("ec531277-b57b-4c15-8d91-d292c5b2b8f7")
    );
    assert_eq!(facts.activities, ["https://courses.example.com/safety-101/au/1"]);
    assert_eq!(
        facts.related_activities,
        [
            "https://courses.example.com/safety-101",
            "https://courses.example.com/safety-101/au/1",
            "https://w3id.org/xapi/cmi5/context/categories/cmi5",
            "https://w3id.org/xapi/cmi5/context/categories/moveon",
        ]
    );
    assert_eq!(
        facts.agents,
        [key(json!({"account": {"homePage": "https://lms.example.com", "name": "ana.silva"}}))]
    );
}

#[test]
fn a_groups_members_count_as_the_groups_appearances() {
    let parsed = fixture("group-actor-identified.json");
    let facts = parsed.facts();
    let group = key(json!({"account": {"homePage": "https://teams.example.com", "name": "kestrel"}}));
    let sam = key(json!({"mbox": "mailto:sam@example.com"}));
    assert!(facts.agents.contains(&group) && facts.agents.contains(&sam));
    // Context instructor and team are related agents, not agents.
    let coach = key(json!({"mbox": "mailto:coach-a@example.com"}));
    let team = key(json!({"openid": "https://openid.example.org/teams/kestrel"}));
    assert!(!facts.agents.contains(&coach));
    assert!(facts.related_agents.contains(&coach) && facts.related_agents.contains(&team));
    assert!(facts.related_agents.contains(&group));
}

#[test]
fn a_sub_statement_contributes_related_agents_and_activities_only() {
    let parsed = fixture("sub-statement-planned.json");
    let facts = parsed.facts();
    let ola = key(json!({"mbox": "mailto:ola@example.com"}));
    assert!(!facts.agents.contains(&ola));
    assert!(facts.related_agents.contains(&ola));
    assert!(facts.activities.is_empty());
    assert!(facts.related_activities.contains(&"https://events.example.com/drills/2024-09-fire".to_string()));
    assert!(facts.related_activities.contains(&"https://events.example.com/drills".to_string()));
}

#[test]
fn an_agent_object_is_an_agent_of_the_statement() {
    let parsed = fixture("agent-as-object.json");
    assert!(parsed.facts().agents.contains(&key(json!({"mbox": "mailto:jeff@example.com"}))));
}

#[test]
fn context_agents_and_groups_are_related_agents() {
    let (_, statement) = fixtures("valid-2.0")
        .into_iter()
        .find(|(n, _)| n == "context-agents-and-groups.json")
        .expect("fixture");
    let parsed = accept_in(statement, Version::V2_0);
    let related = &parsed.facts().related_agents;
    assert!(related.contains(&key(json!({"mbox": "mailto:player-2@example.com"}))));
    assert!(related.contains(&key(json!({"mbox": "mailto:team-1@example.com"}))));
    assert!(!parsed.facts().agents.contains(&key(json!({"mbox": "mailto:player-2@example.com"}))));
}

#[test]
fn a_statement_ref_is_recorded_and_only_voided_verbs_void() {
    let comment = fixture("statement-ref-comment.json");
    assert_eq!(
        comment.facts().statement_ref.map(|id| id.to_string()).as_deref(),
        Some("8f87ccde-bb56-4c2e-ab83-44982ef22df0")
    );
    assert_eq!(comment.facts().voids, None);
    let voiding = fixture("voiding.json");
    assert_eq!(voiding.facts().voids, voiding.facts().statement_ref);
    assert!(voiding.facts().voids.is_some());
}

#[test]
fn the_client_id_is_kept() {
    let parsed = fixture("cmi5-launched.json");
    assert_eq!(parsed.id().map(|id| id.to_string()).as_deref(), Some("2a41c918-b88b-4b20-a0a5-a4c32391aaa1"));
}

// ---------------------------------------------------------------------------------------
// Agent keys and the `agent` query parameter

#[test]
fn agent_keys_ignore_the_case_of_the_email_domain_and_sha1_hex() {
    assert_eq!(
        key(json!({"mbox": "mailto:Ann@Example.COM"})),
        key(json!({"mbox": "mailto:Ann@example.com"}))
    );
    assert_ne!(
        key(json!({"mbox": "mailto:ann@example.com"})),
        key(json!({"mbox": "mailto:Ann@example.com"}))
    );
    assert_eq!(
        key(json!({"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"})),
        key(json!({"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"}))
    );
    // Account names are case-sensitive; homePage cannot contain the space that separates them.
    assert_ne!(
        key(json!({"account": {"homePage": "https://a.example.com", "name": "Ann"}})),
        key(json!({"account": {"homePage": "https://a.example.com", "name": "ann"}}))
    );
}

#[test]
fn the_agent_parameter_accepts_an_agent_or_identified_group() {
    let agent = parse_agent_param(
        r#"{"objectType":"Agent","account":{"homePage":"http://www.example.com/agentId/1","name":"Rick James"}}"#,
    );
    assert_eq!(
        agent.unwrap(),
        key(json!({"account": {"homePage": "http://www.example.com/agentId/1", "name": "Rick James"}}))
    );
    let group = parse_agent_param(r#"{"objectType":"Group","mbox":"mailto:team@example.com"}"#);
    assert_eq!(group.unwrap(), key(json!({"mbox": "mailto:team@example.com"})));
}

#[test]
fn the_agent_parameter_rejects_invalid_agents_with_their_path() {
    let e = parse_agent_param(r#"{"mbox":"mailto:a@example.com","openid":"http://openid.example.org/a"}"#)
        .unwrap_err();
    assert_eq!(e.path, "agent");
    let e = parse_agent_param(r#"{"mbox":"a@example.com"}"#).unwrap_err();
    assert_eq!(e.path, "agent.mbox");
    let e = parse_agent_param(r#"{"objectType":"Agent","account":{"name":"x"}}"#).unwrap_err();
    assert_eq!(e.path, "agent.account.homePage");
    let e = parse_agent_param("not JSON").unwrap_err();
    assert_eq!(e.path, "agent");
    let e = parse_agent_param("true").unwrap_err();
    assert_eq!(e.path, "agent");
}

#[test]
fn the_agent_parameter_rejects_an_anonymous_group() {
    let e = parse_agent_param(r#"{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"}]}"#)
        .unwrap_err();
    assert_eq!(e.path, "agent");
}
