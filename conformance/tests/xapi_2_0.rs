//! xAPI 2.0.0 (IEEE 9274.1.1) beside 1.0.3: the version a request speaks decides the
//! rules and the answer.

use conformance::statements::{agent, statement};
use conformance::{Lrs, backend_tests, encode as enc};
use serde_json::json;
use uuid::Uuid;

backend_tests! {
    fn a_2_0_request_is_answered_in_2_0(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        assert_eq!(lrs.get("/statements").header("X-Experience-API-Version"), Some("2.0.0"));
        let patch = lrs.request("GET", "/statements").header("X-Experience-API-Version", "2.0.3").send();
        assert_eq!((patch.status, patch.header("X-Experience-API-Version")), (200, Some("2.0.0")));
    }

    fn about_lists_both_versions(backend) {
        let lrs = Lrs::start(backend);
        let versions = lrs.get("/about").json()["version"].clone();
        assert_eq!(versions, json!(["1.0.3", "2.0.0"]));
    }

    fn a_statement_stored_under_2_0_gets_version_2_0_0(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        let id = lrs.store_one(&statement());
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).json()["version"], json!("2.0.0"));
    }

    fn context_agents_are_2_0_only(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["context"] = json!({ "contextAgents": [{ "objectType": "contextAgent", "agent": agent(), "relevantTypes": ["http://example.com/types/coach"] }] });
        assert_eq!(lrs.post_json("/statements", &s).status, 400, "unknown under 1.0.3");
        let lrs = lrs.speaking("2.0.0");
        assert_eq!(lrs.post_json("/statements", &s).status, 200);
    }

    fn context_agents_are_related_agents(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        let coach = agent();
        let mut s = statement();
        s["context"] = json!({ "contextAgents": [{ "objectType": "contextAgent", "agent": coach }] });
        let id = lrs.store_one(&s);
        let query = format!("agent={}&related_agents=true", enc(&json!({ "mbox": coach["mbox"] }).to_string()));
        assert_eq!(lrs.query_ids(&query), vec![id]);
    }

    fn a_2_0_statement_is_read_in_the_readers_version(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        let mut s = statement();
        s["context"] = json!({ "contextAgents": [{ "objectType": "contextAgent", "agent": agent() }], "platform": "LMS" });
        let id = lrs.store_one(&s);
        let as_2_0 = lrs.get(&format!("/statements?statementId={id}")).json();
        assert!(as_2_0["context"]["contextAgents"].is_array());
        let lrs = lrs.speaking("1.0.3");
        let as_1_0 = lrs.get(&format!("/statements?statementId={id}")).json();
        assert!(as_1_0["context"].get("contextAgents").is_none(), "1.0.3 has no context agents: {as_1_0}");
        assert_eq!(as_1_0["context"]["platform"], json!("LMS"));
        let listed = lrs.query(&format!("registration={}", Uuid::new_v4()));
        assert_eq!(listed["statements"], json!([]));
        let page = lrs.query("limit=10");
        assert!(page["statements"].as_array().unwrap().iter().all(|s| s["context"].get("contextAgents").is_none()));
    }

    fn a_2_0_timestamp_needs_an_offset(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["timestamp"] = json!("2024-03-12T09:41:00.000");
        assert_eq!(lrs.post_json("/statements", &s).status, 200, "1.0.3 reads it as UTC");
        let lrs = lrs.speaking("2.0.0");
        assert_eq!(lrs.post_json("/statements", &s).status, 400);
        s["timestamp"] = json!("2024-03-12T09:41:00.000-00:00");
        assert_eq!(lrs.post_json("/statements", &s).status, 400);
    }

    fn replacing_a_state_document_needs_a_precondition_under_2_0(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        let doc = format!(
            "/activities/state?activityId={}&agent={}&stateId=s",
            enc("http://example.com/course"),
            enc(&json!({ "mbox": format!("mailto:{}@example.com", Uuid::new_v4().simple()) }).to_string())
        );
        let put = |body: &[u8]| lrs.request("PUT", &doc).header("Content-Type", "text/plain").body(body);
        assert_eq!(put(b"v1").status, 204);
        put(b"v2").assert_error(409, "");
        assert_eq!(lrs.get(&doc).body, "v1");
    }

    fn the_alternate_request_syntax_is_gone_in_2_0(backend) {
        let lrs = Lrs::start(backend).speaking("2.0.0");
        let reply = lrs.request("POST", "/statements?method=GET").form(&[("limit", "1")]);
        assert_eq!(reply.status, 400);
    }
}
