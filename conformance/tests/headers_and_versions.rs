//! xAPI 1.0.3 Communication §1.1 (HEAD), §2.8 (About), §3.2 (errors), §3.3 (versioning)
//! and §4 (authentication).

use conformance::statements::statement;
use conformance::{Lrs, backend_tests};
use serde_json::json;

backend_tests! {
    fn requests_without_a_version_header_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        let reply = lrs.request("GET", "/statements").without("X-Experience-API-Version").send();
        reply.assert_error(400, "X-Experience-API-Version");
        // Nothing says which version the client speaks: the answer names the newest.
        assert_eq!(reply.header("X-Experience-API-Version"), Some("2.0.0"));
        let reply = lrs.request("POST", "/statements").without("X-Experience-API-Version").json(&statement());
        assert_eq!(reply.status, 400);
    }

    fn unsupported_versions_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        for version in ["0.95", "1.1.0", "BAD"] {
            let reply = lrs.request("GET", "/statements").header("X-Experience-API-Version", version).send();
            assert_eq!(reply.status, 400, "{version}");
        }
    }

    fn any_1_0_patch_version_is_accepted_and_answered_as_1_0_3(backend) {
        let lrs = Lrs::start(backend);
        for version in ["1.0", "1.0.0", "1.0.3", "1.0.9"] {
            let reply = lrs.request("GET", "/statements").header("X-Experience-API-Version", version).send();
            assert_eq!(reply.status, 200, "{version}");
            assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"));
        }
    }

    fn every_response_carries_the_version_header(backend) {
        let lrs = Lrs::start(backend);
        let replies = [
            lrs.get("/statements"),
            lrs.get("/statements?statementId=00000000-0000-4000-8000-000000000000"),
            lrs.get("/statements?nope=1"),
            lrs.request("GET", "/statements").without("Authorization").send(),
            lrs.get("/no-such-resource"),
        ];
        for reply in replies {
            assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"), "{}: {}", reply.status, reply.body);
        }
    }

    fn about_answers_without_credentials_or_version(backend) {
        let lrs = Lrs::start(backend);
        let reply = lrs.request("GET", "/about").without("Authorization").without("X-Experience-API-Version").send();
        assert_eq!(reply.status, 200);
        assert!(reply.json()["version"].as_array().unwrap().contains(&json!("1.0.3")));
        assert_eq!(lrs.request("HEAD", "/about").send().status, 200);
    }

    fn missing_or_wrong_credentials_are_401_with_a_challenge(backend) {
        let lrs = Lrs::start(backend);
        let missing = lrs.request("GET", "/statements").without("Authorization").send();
        missing.assert_error(401, "");
        assert!(missing.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Basic")));
        let wrong = lrs.request("GET", "/statements").header("Authorization", "Basic a2V5Ondyb25n").send();
        wrong.assert_error(401, "");
        let malformed = lrs.request("PUT", "/statements?statementId=00000000-0000-4000-8000-000000000000").header("Authorization", "Basic:xxx").json(&statement());
        malformed.assert_error(401, "");
    }

    fn unknown_resources_are_404_json(backend) {
        let lrs = Lrs::start(backend);
        lrs.get("/no-such-resource").assert_error(404, "");
    }
}

mod framework_errors {
    use super::*;
    use test_support::{Backend, TestDatabase, TestServer};

    #[test]
    fn a_body_over_the_limit_is_413_json() {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return; // Needs a server started with a small limit.
        }
        let config = server::AppConfig { max_body_bytes: 2_000, workers: 1, ..Default::default() };
        let lrs = Lrs::for_server(TestServer::start_with(TestDatabase::new(Backend::Sqlite), config));
        let big: Vec<_> = (0..20).map(|_| statement()).collect();
        let reply = lrs.post_json("/statements", &serde_json::Value::Array(big));
        reply.assert_error(413, "");
        assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"));
    }

    #[test]
    fn a_method_the_resource_lacks_is_405_json() {
        let lrs = Lrs::start(Backend::Sqlite);
        lrs.request("DELETE", "/statements").send().assert_error(405, "");
    }
}

mod health {
    use test_support::{Backend, TestServer};

    fn get(url: &str) -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent.get(url).call().expect("an answer").status().as_u16()
    }

    #[test]
    fn health_and_ready_answer_without_credentials() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let server = TestServer::start(backend);
            let root = server.base_url.trim_end_matches("/xapi");
            assert_eq!(get(&format!("{root}/health")), 200);
            assert_eq!(get(&format!("{root}/ready")), 200);
        }
    }
}
