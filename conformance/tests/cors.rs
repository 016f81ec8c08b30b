//! Cross-origin use from web pages (the Fetch standard's CORS protocol, which xAPI clients
//! in browsers depend on; xAPI 1.0.3 Communication §1.3 explains why): preflights, the
//! headers of answers, and a configured list of origins.

use conformance::statements::statement;
use conformance::{Lrs, Reply, backend_tests};
use uuid::Uuid;

const ORIGIN: &str = "https://lms.example.com";

/// The request headers an xAPI client in a page asks to send.
const REQUEST_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "x-experience-api-version",
    "if-match",
    "if-none-match",
    "x-experience-api-hash",
];

/// A comma-separated header as lower-case items.
fn items(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

/// What a browser sends before a cross-origin `method` with xAPI headers: no credentials,
/// no version.
fn preflight(lrs: &Lrs, path: &str, origin: &str, method: &str) -> Reply {
    lrs.request("OPTIONS", path)
        .without("Authorization")
        .without("X-Experience-API-Version")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", &REQUEST_HEADERS.join(","))
        .send()
}

fn assert_allowed(reply: &Reply, origin: &str) {
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some(origin), "{}: {}", reply.status, reply.body);
    assert_eq!(reply.header("Access-Control-Allow-Credentials"), Some("true"));
    assert!(items(reply.header("Vary")).contains(&"origin".to_string()));
}

backend_tests! {
    fn a_preflight_from_another_origin_is_allowed_without_credentials(backend) {
        let lrs = Lrs::start(backend);
        let reply = preflight(&lrs, "/statements", ORIGIN, "PUT");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_allowed(&reply, ORIGIN);
        let methods = items(reply.header("Access-Control-Allow-Methods"));
        for method in ["get", "head", "put", "post", "delete", "options"] {
            assert!(methods.contains(&method.to_string()), "{method} in {methods:?}");
        }
        let headers = items(reply.header("Access-Control-Allow-Headers"));
        for header in REQUEST_HEADERS {
            assert!(headers.contains(&header.to_string()), "{header} in {headers:?}");
        }
        assert!(reply.header("Access-Control-Max-Age").is_some());
    }

    fn preflights_are_answered_for_every_resource(backend) {
        let lrs = Lrs::start(backend);
        let resources = [
            "/statements",
            "/activities/state",
            "/activities/profile",
            "/agents/profile",
            "/activities",
            "/agents",
            "/about",
        ];
        for path in resources {
            for method in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
                let reply = preflight(&lrs, path, ORIGIN, method);
                assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
                assert_allowed(&reply, ORIGIN);
            }
        }
    }

    fn a_preflight_for_a_method_xapi_does_not_use_is_refused(backend) {
        let lrs = Lrs::start(backend);
        let reply = preflight(&lrs, "/statements", ORIGIN, "PATCH");
        assert_eq!(reply.status, 400);
        assert_eq!(reply.header("Access-Control-Allow-Origin"), None);
    }

    fn responses_expose_the_xapi_headers_to_scripts(backend) {
        let lrs = Lrs::start(backend);
        let reply = lrs.request("GET", "/statements").header("Origin", ORIGIN).send();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_allowed(&reply, ORIGIN);
        let exposed = items(reply.header("Access-Control-Expose-Headers"));
        for header in [
            "etag",
            "last-modified",
            "x-experience-api-consistent-through",
            "x-experience-api-version",
            "content-type",
        ] {
            assert!(exposed.contains(&header.to_string()), "{header} in {exposed:?}");
        }
    }

    fn credentialed_requests_from_any_origin_get_that_exact_origin_back(backend) {
        // With credentials a wildcard is not enough for browsers: the origin is named.
        let lrs = Lrs::start(backend);
        for origin in [ORIGIN, "http://localhost:3000"] {
            let id = Uuid::new_v4();
            let reply = lrs
                .request("PUT", &format!("/statements?statementId={id}"))
                .header("Origin", origin)
                .json(&statement());
            assert_eq!(reply.status, 204, "{}", reply.body);
            assert_allowed(&reply, origin);
        }
    }

    fn error_responses_carry_the_cors_headers_too(backend) {
        // So a page can read why it failed.
        let lrs = Lrs::start(backend);
        let replies = [
            lrs.request("GET", "/statements").without("Authorization").header("Origin", ORIGIN).send(),
            lrs.request("GET", "/statements").without("X-Experience-API-Version").header("Origin", ORIGIN).send(),
            lrs.request("GET", "/statements?nope=1").header("Origin", ORIGIN).send(),
            lrs.request("GET", "/no-such-resource").header("Origin", ORIGIN).send(),
        ];
        for reply in replies {
            assert!(reply.status >= 400, "{}", reply.status);
            assert_allowed(&reply, ORIGIN);
        }
    }

    fn an_alternate_syntax_request_from_another_origin_is_answered_with_cors_headers(backend) {
        // A form POST is a "simple" request: no preflight, credentials in the form.
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let reply = lrs
            .request("POST", "/statements?method=PUT")
            .without("Authorization")
            .without("X-Experience-API-Version")
            .header("Origin", ORIGIN)
            .form(&[
                ("statementId", &id),
                ("Authorization", lrs.authorization()),
                ("X-Experience-API-Version", "1.0.3"),
                ("content", &statement().to_string()),
            ]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_allowed(&reply, ORIGIN);
    }
}

/// Servers started with a list of allowed origins.
mod configured_origins {
    use super::*;
    use server::AppConfig;
    use test_support::{Backend, TestDatabase, TestServer};

    fn lrs_allowing(origins: &[&str]) -> Option<Lrs> {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return None; // Needs a server started with these settings.
        }
        let config = AppConfig {
            cors_allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
            workers: 1,
            ..AppConfig::default()
        };
        Some(Lrs::for_server(TestServer::start_with(TestDatabase::new(Backend::Sqlite), config)))
    }

    #[test]
    fn a_configured_origin_list_allows_only_those_origins() {
        // Written as a person might: capitals and a trailing slash.
        let Some(lrs) = lrs_allowing(&["https://LMS.example.com/", "http://localhost:3000"]) else {
            return;
        };
        for origin in [ORIGIN, "http://localhost:3000"] {
            let reply = preflight(&lrs, "/statements", origin, "POST");
            assert_eq!(reply.status, 200, "{origin}: {}", reply.body);
            assert_allowed(&reply, origin);
            let reply = lrs.request("GET", "/statements").header("Origin", origin).send();
            assert_eq!(reply.status, 200);
            assert_allowed(&reply, origin);
        }
        for other in ["https://elsewhere.example", "https://lms.example.com:8443", "http://lms.example.com"] {
            let reply = preflight(&lrs, "/statements", other, "POST");
            assert_eq!(reply.status, 400, "{other}");
            assert_eq!(reply.header("Access-Control-Allow-Origin"), None, "{other}");
            // Requests a browser sends without a preflight are refused too, before they
            // reach the resource: a form POST from a page elsewhere writes nothing.
            let reply = lrs.request("GET", "/statements").header("Origin", other).send();
            assert_eq!(reply.status, 400, "{other}");
            assert_eq!(reply.header("Access-Control-Allow-Origin"), None, "{other}");
            let id = Uuid::new_v4().to_string();
            let reply = lrs
                .request("POST", "/statements?method=PUT")
                .header("Origin", other)
                .form(&[("statementId", &id), ("content", &statement().to_string())]);
            assert_eq!(reply.status, 400, "{other}");
            assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 404);
        }
        // Requests without an Origin (not from a browser page) work as always.
        assert_eq!(lrs.get("/statements").status, 200);
    }

    #[test]
    fn a_wildcard_in_the_list_allows_every_origin() {
        let Some(lrs) = lrs_allowing(&["*"]) else {
            return;
        };
        let reply = preflight(&lrs, "/statements", "https://anywhere.example", "PUT");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_allowed(&reply, "https://anywhere.example");
    }
}
