//! What operators rely on: request ids, readiness with the schema's state, and the
//! failed-login brake behind proxies.

use conformance::{Lrs, backend_tests};
use server::AppConfig;
use server::client_addr::TrustedProxies;
use test_support::{Backend, TestDatabase, TestServer};

fn own(backend: Backend, config: AppConfig) -> Option<Lrs> {
    if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
        return None;
    }
    Some(Lrs::for_server(TestServer::start_with(
        TestDatabase::new(backend),
        AppConfig { workers: 2, ..config },
    )))
}

backend_tests! {
    fn every_answer_carries_a_request_id(backend) {
        let Some(lrs) = own(backend, AppConfig::default()) else { return };
        let given = lrs.request("GET", "/statements").header("X-Request-Id", "lb-7f3a.42").send();
        assert_eq!(given.header("x-request-id"), Some("lb-7f3a.42"), "a client's id is echoed");
        let made = lrs.get("/statements?limit=nope");
        assert_eq!(made.status, 400);
        let id = made.header("x-request-id").expect("errors carry one too").to_string();
        assert!(id.len() >= 16, "{id}");
        assert_ne!(lrs.get("/statements").header("x-request-id"), Some(id.as_str()), "one per request");
        let hostile = lrs.request("GET", "/about").header("X-Request-Id", "<script>alert(1)</script>").send();
        assert_ne!(hostile.header("x-request-id"), Some("<script>alert(1)</script>"), "replaced, not echoed");
    }

    fn ready_says_the_schema_is_current(backend) {
        let Some(lrs) = own(backend, AppConfig::default()) else { return };
        let reply = lrs.request("GET", "/").url(&format!("{}/ready", lrs.root())).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["migrations"]["current"], true, "{}", reply.body);
    }

    fn behind_a_trusted_proxy_the_brake_counts_each_client(backend) {
        let config = AppConfig {
            auth_failures_per_minute: 3,
            trusted_proxies: TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap(),
            ..AppConfig::default()
        };
        let Some(lrs) = own(backend, config) else { return };
        let from = |client: &str, authorization: &str| {
            lrs.request("GET", "/statements").header("X-Forwarded-For", client).header("Authorization", authorization).send().status
        };
        let wrong = "Basic bm9ib2R5Om5vdGhpbmc=";
        for _ in 0..3 {
            assert_eq!(from("203.0.113.1", wrong), 401);
        }
        assert_eq!(from("203.0.113.1", wrong), 429, "the guesser is slowed");
        assert_eq!(from("203.0.113.1", lrs.authorization()), 429, "even with the right secret, for the minute");
        assert_eq!(from("203.0.113.2", lrs.authorization()), 200, "everyone else behind the proxy is not");
        assert_eq!(from("203.0.113.2", wrong), 401);
        // A forged chain cannot pick another client's slot: the nearest hop counts.
        assert_eq!(from("203.0.113.9, 203.0.113.1", lrs.authorization()), 429);
    }

    fn without_trusted_proxies_forwarding_headers_are_ignored(backend) {
        let Some(lrs) = own(backend, AppConfig { auth_failures_per_minute: 2, ..AppConfig::default() }) else { return };
        let wrong = "Basic bm9ib2R5Om5vdGhpbmc=";
        for client in ["203.0.113.1", "203.0.113.2"] {
            let status = lrs.request("GET", "/statements").header("X-Forwarded-For", client).header("Authorization", wrong).send().status;
            assert_eq!(status, 401);
        }
        let status = lrs.request("GET", "/statements").header("X-Forwarded-For", "203.0.113.3").send().status;
        assert_eq!(status, 429, "the peer (this test) is the client, whatever the header says");
    }

    fn a_brake_of_zero_is_no_brake(backend) {
        let Some(lrs) = own(backend, AppConfig { auth_failures_per_minute: 0, ..AppConfig::default() }) else { return };
        for _ in 0..40 {
            let status = lrs.request("GET", "/statements").header("Authorization", "Basic bm9ib2R5Om5vdGhpbmc=").send().status;
            assert_eq!(status, 401);
        }
        assert_eq!(lrs.get("/statements").status, 200);
    }
}
