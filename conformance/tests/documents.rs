//! xAPI 1.0.3 Communication §2.3 (State), §2.6 (Agent Profile), §2.7 (Activity Profile)
//! and §3.1 (concurrency).

use conformance::{Lrs, Reply, backend_tests, encode as enc};
use serde_json::json;
use uuid::Uuid;

/// A unique state context: `/activities/state?activityId=…&agent=…`.
fn state_context() -> String {
    let agent =
        json!({ "objectType": "Agent", "mbox": format!("mailto:{}@example.com", Uuid::new_v4().simple()) });
    format!(
        "/activities/state?activityId={}&agent={}",
        enc(&format!("http://example.com/course/{}", Uuid::new_v4().simple())),
        enc(&agent.to_string())
    )
}

fn activity_profile(id: &str) -> String {
    format!("/activities/profile?activityId={}&profileId={id}", enc("http://example.com/course/profiled"))
}

fn agent_profile(id: &str) -> String {
    let agent = json!({ "mbox": "mailto:profiled@example.com" });
    format!("/agents/profile?agent={}&profileId={id}", enc(&agent.to_string()))
}

fn put(lrs: &Lrs, path: &str, content_type: &str, body: &str) -> Reply {
    lrs.request("PUT", path).header("Content-Type", content_type).body(body.as_bytes())
}

fn etag(reply: &Reply) -> String {
    reply.header("ETag").expect("an ETag").to_string()
}

backend_tests! {
    fn a_state_document_comes_back_byte_for_byte_with_its_content_type(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=bookmark", state_context());
        assert_eq!(put(&lrs, &doc, "application/octet-stream", "page=7\u{0}\u{1}").status, 204);
        let got = lrs.get(&doc);
        assert_eq!(got.status, 200);
        assert_eq!(got.body, "page=7\u{0}\u{1}");
        assert_eq!(got.header("Content-Type"), Some("application/octet-stream"));
    }

    fn a_document_get_carries_a_quoted_sha1_etag_and_last_modified(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=s", state_context());
        put(&lrs, &doc, "text/plain", "abc");
        let got = lrs.get(&doc);
        assert_eq!(etag(&got), "\"a9993e364706816aba3e25717850c26c9cd0d89d\"");
        assert!(got.header("Last-Modified").is_some_and(|v| v.ends_with("GMT")));
    }

    fn a_missing_document_is_404(backend) {
        let lrs = Lrs::start(backend);
        lrs.get(&format!("{}&stateId=nothing", state_context())).assert_error(404, "");
    }

    fn without_a_state_id_get_lists_ids_and_since_filters_them(backend) {
        let lrs = Lrs::start(backend);
        let context = state_context();
        put(&lrs, &format!("{context}&stateId=a"), "text/plain", "1");
        assert_eq!(lrs.get(&context).json(), json!(["a"]));
        std::thread::sleep(std::time::Duration::from_millis(50));
        let between = xapi::Timestamp::now().to_rfc3339();
        std::thread::sleep(std::time::Duration::from_millis(50));
        put(&lrs, &format!("{context}&stateId=b"), "text/plain", "2");
        assert_eq!(lrs.get(&context).json(), json!(["a", "b"]));
        assert_eq!(lrs.get(&format!("{context}&since={}", enc(&between))).json(), json!(["b"]));
        assert_eq!(lrs.get(&format!("{context}&since={}", enc("2999-01-01T00:00:00Z"))).json(), json!([]));
    }

    fn a_registration_keeps_state_apart(backend) {
        let lrs = Lrs::start(backend);
        let context = state_context();
        let registration = Uuid::new_v4();
        put(&lrs, &format!("{context}&stateId=s"), "text/plain", "plain");
        put(&lrs, &format!("{context}&registration={registration}&stateId=s"), "text/plain", "registered");
        assert_eq!(lrs.get(&format!("{context}&stateId=s")).body, "plain");
        assert_eq!(lrs.get(&format!("{context}&registration={registration}&stateId=s")).body, "registered");
        assert_eq!(lrs.get(&format!("{context}&registration={registration}")).json(), json!(["s"]));
    }

    fn delete_removes_one_state_or_every_state_of_the_context(backend) {
        let lrs = Lrs::start(backend);
        let context = state_context();
        for id in ["a", "b", "c"] {
            put(&lrs, &format!("{context}&stateId={id}"), "text/plain", id);
        }
        assert_eq!(lrs.request("DELETE", &format!("{context}&stateId=a")).send().status, 204);
        assert_eq!(lrs.get(&context).json(), json!(["b", "c"]));
        assert_eq!(lrs.request("DELETE", &context).send().status, 204);
        assert_eq!(lrs.get(&context).json(), json!([]));
    }

    fn post_merges_top_level_properties_of_json_documents(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=prefs", state_context());
        assert_eq!(lrs.post_json(&doc, &json!({ "car": { "make": "a", "model": "b" }, "driver": "x" })).status, 204);
        assert_eq!(lrs.post_json(&doc, &json!({ "car": { "make": "c" }, "series": 1 })).status, 204);
        assert_eq!(lrs.get(&doc).json(), json!({ "car": { "make": "c" }, "driver": "x", "series": 1 }));
    }

    fn a_merge_involving_a_non_json_document_is_400_and_changes_nothing(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=prefs", state_context());
        lrs.post_json(&doc, &json!({ "a": 1 }));
        let reply = lrs.request("POST", &doc).header("Content-Type", "text/plain").body(b"abc");
        assert_eq!(reply.status, 400, "{}", reply.body);
        let reply = lrs.request("POST", &doc).header("Content-Type", "application/json").body(b"{\"a\":");
        assert_eq!(reply.status, 400);
        assert_eq!(lrs.get(&doc).json(), json!({ "a": 1 }));
        let binary = format!("{}&stateId=bin", state_context());
        put(&lrs, &binary, "application/octet-stream", "raw");
        assert_eq!(lrs.post_json(&binary, &json!({ "a": 1 })).status, 400);
        assert_eq!(lrs.get(&binary).body, "raw");
    }

    fn if_match_with_the_current_etag_succeeds_and_a_stale_one_is_412(backend) {
        let lrs = Lrs::start(backend);
        let doc = activity_profile(&Uuid::new_v4().to_string());
        put(&lrs, &doc, "text/plain", "v1");
        let current = etag(&lrs.get(&doc));
        let stale = "\"1111111111111111111111111111111111111111\"";
        let reply = lrs.request("PUT", &doc).header("If-Match", stale).header("Content-Type", "text/plain").body(b"v2");
        reply.assert_error(412, "");
        assert_eq!(lrs.get(&doc).body, "v1");
        let reply = lrs.request("DELETE", &doc).header("If-Match", stale).send();
        assert_eq!(reply.status, 412);
        let reply = lrs.request("PUT", &doc).header("If-Match", &current).header("Content-Type", "text/plain").body(b"v2");
        assert_eq!(reply.status, 204);
        assert_eq!(lrs.get(&doc).body, "v2");
    }

    fn if_none_match_star_creates_only_when_absent(backend) {
        let lrs = Lrs::start(backend);
        let doc = agent_profile(&Uuid::new_v4().to_string());
        let create = |body: &[u8]| lrs.request("PUT", &doc).header("If-None-Match", "*").header("Content-Type", "text/plain").body(body);
        assert_eq!(create(b"v1").status, 204);
        assert_eq!(create(b"v2").status, 412);
        assert_eq!(lrs.get(&doc).body, "v1");
    }

    fn replacing_a_profile_without_a_precondition_is_409_explaining_what_to_send(backend) {
        let lrs = Lrs::start(backend);
        for doc in [activity_profile(&Uuid::new_v4().to_string()), agent_profile(&Uuid::new_v4().to_string())] {
            assert_eq!(put(&lrs, &doc, "text/plain", "v1").status, 204, "creating needs no precondition");
            let reply = put(&lrs, &doc, "text/plain", "v2");
            reply.assert_error(409, "");
            assert!(reply.body.contains("If-Match"), "{}", reply.body);
            assert_eq!(lrs.get(&doc).body, "v1");
        }
        // State documents may be replaced freely (xAPI 1.0.3 Communication §3.1).
        let state = format!("{}&stateId=s", state_context());
        put(&lrs, &state, "text/plain", "v1");
        assert_eq!(put(&lrs, &state, "text/plain", "v2").status, 204);
    }

    fn concurrent_merges_into_one_document_keep_every_key(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=shared", state_context());
        std::thread::scope(|scope| {
            for i in 0..24 {
                let (lrs, doc) = (&lrs, &doc);
                scope.spawn(move || {
                    let reply = lrs.post_json(doc, &json!({ format!("client{i}"): i }));
                    assert_eq!(reply.status, 204, "{}", reply.body);
                });
            }
        });
        assert_eq!(lrs.get(&doc).json().as_object().unwrap().len(), 24);
    }

    fn profile_lists_and_deletes(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        put(&lrs, &agent_profile(&id), "application/json", "{\"theme\":\"dark\"}");
        let list = format!("/agents/profile?agent={}", enc(&json!({ "mbox": "mailto:profiled@example.com" }).to_string()));
        assert!(lrs.get(&list).json().as_array().unwrap().contains(&json!(id)));
        assert_eq!(lrs.request("DELETE", &agent_profile(&id)).send().status, 204);
        assert_eq!(lrs.get(&agent_profile(&id)).status, 404);
        lrs.request("DELETE", &list).send().assert_error(400, "profileId");
    }

    fn missing_or_malformed_parameters_are_400_naming_the_parameter(backend) {
        let lrs = Lrs::start(backend);
        let agent = enc(&json!({ "mbox": "mailto:a@example.com" }).to_string());
        for (path, name) in [
            (format!("/activities/state?agent={agent}&stateId=s"), "activityId"),
            ("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&stateId=s".to_string(), "agent"),
            ("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&agent=notjson&stateId=s".to_string(), "agent"),
            (format!("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&agent={}&stateId=s", enc("{\"name\":\"no ifi\"}")), "agent"),
            (format!("/activities/state?activityId=not%20an%20iri&agent={agent}&stateId=s"), "activityId"),
            (format!("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&agent={agent}&registration=true"), "registration"),
            (format!("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&agent={agent}&since=notatime"), "since"),
            ("/activities/profile?profileId=p".to_string(), "activityId"),
            ("/agents/profile?profileId=p".to_string(), "agent"),
            (format!("/activities/state?activityId=http%3A%2F%2Fa.b%2Fc&agent={agent}&StateId=s"), "StateId"),
        ] {
            let reply = lrs.get(&path);
            assert_eq!(reply.status, 400, "{path}: {}", reply.body);
            assert_eq!(reply.json()["error"]["path"].as_str(), Some(name), "{path}: {}", reply.body);
        }
        put(&lrs, &state_context(), "text/plain", "no id").assert_error(400, "stateId");
    }

    fn head_answers_every_document_get_without_a_body(backend) {
        let lrs = Lrs::start(backend);
        let doc = format!("{}&stateId=s", state_context());
        put(&lrs, &doc, "text/plain", "hello");
        let head = lrs.request("HEAD", &doc).send();
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert!(head.header("ETag").is_some());
        assert_eq!(lrs.request("HEAD", &activity_profile("none")).send().status, 404);
    }
}

mod limits {
    use super::*;
    use test_support::{Backend, TestDatabase, TestServer};

    #[test]
    fn a_document_over_the_size_limit_is_413_and_not_stored() {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return; // Needs a server started with a small limit.
        }
        let config = server::AppConfig { max_body_bytes: 1_000, workers: 1, ..Default::default() };
        let lrs = Lrs::for_server(TestServer::start_with(TestDatabase::new(Backend::Sqlite), config));
        let doc = format!("{}&stateId=big", state_context());
        put(&lrs, &doc, "text/plain", &"x".repeat(2_000)).assert_error(413, "");
        assert_eq!(lrs.get(&doc).status, 404);
    }
}
