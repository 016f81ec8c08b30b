//! The pages over plain HTTP, on both backends: who may see what (401/403), sessions that
//! end (sign-out, revocation), forms refused without their token, and values from
//! statements and tickets shown as text, never as markup.

mod support;

use serde_json::json;
use support::{Session, Site, hidden_value, multipart};
use test_support::backend_tests;

/// Every page that shows data, with a path that exists once the demo goal is loaded.
const PAGES: &[&str] = &[
    "/ui",
    "/ui/goals",
    "/ui/goals/install",
    "/ui/goals/install/report.csv",
    "/ui/content",
    "/ui/tickets",
    "/ui/statements",
    "/ui/credentials",
    "/ui/forwarding",
    "/ui/audit",
    "/ui/connectors",
];

/// A goal whose name only this test knows, to look for in answers.
const SECRET_GOAL_NAME: &str = "Only-for-signed-in-eyes";

fn put_named_goal(site: &Site) {
    let mut goal = insights::demo::Scenario::working().generate().goal;
    goal["name"] = json!(SECRET_GOAL_NAME);
    let reply = site.api("PUT", "/insights/goals/install", "application/json", goal.to_string().as_bytes());
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn assert_sent_to_sign_in(reply: &support::Reply, path: &str) {
    assert_eq!(reply.status, 303, "{path}: {}", reply.body);
    assert!(reply.location().starts_with("/ui/sign-in?next="), "{path}: {}", reply.location());
    assert!(!reply.body.contains(SECRET_GOAL_NAME), "{path} showed data: {}", reply.body);
}

backend_tests! {
    fn pages_without_a_session_show_no_data_and_send_browsers_to_sign_in(backend) {
        let site = Site::start(backend);
        put_named_goal(&site);
        let stranger = Session { cookie: format!("tally_session={}", "ab".repeat(32)), csrf: String::new() };
        for path in PAGES {
            assert_sent_to_sign_in(&site.page(path, None), path);
            assert_sent_to_sign_in(&site.page(path, Some(&stranger)), path);
        }
        // The API's Basic credentials are not a session.
        let basic = Site::basic(&site.key, &site.secret);
        let reply = site.request("GET", "/ui/goals", &[("Authorization", &basic)], b"");
        assert_sent_to_sign_in(&reply, "/ui/goals with Basic auth");
        let sign_in = site.page("/ui/sign-in?next=%2Fui%2Fgoals%2Finstall", None);
        assert_eq!(hidden_value(&sign_in.body, "next").as_deref(), Some("/ui/goals/install"));
        for path in ["/ui/sign-out", "/ui/credentials", "/ui/tickets/import", "/ui/credentials/x/revoke"] {
            let reply = site.post_form(path, Some(&stranger), &[("csrf", "x"), ("name", "n"), ("scope", "all")]);
            assert_eq!(reply.status, 401, "POST {path}: {}", reply.body);
            assert!(!reply.body.contains(SECRET_GOAL_NAME));
        }
        let listed = site.api_json("/admin/credentials");
        assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was created: {listed}");
    }

    fn a_wrong_secret_or_an_unknown_key_does_not_sign_in(backend) {
        let site = Site::start(backend);
        for (key, secret) in [(site.key.as_str(), "wrong"), ("nobody", site.secret.as_str()), (site.key.as_str(), "")] {
            let (reply, session) = site.try_sign_in(key, secret);
            assert!(session.is_none(), "{key}:{secret} signed in");
            assert_eq!(reply.status, 303, "{}", reply.body);
            assert_eq!(reply.location(), "/ui/sign-in?error=wrong");
        }
        let (_, session) = site.try_sign_in(&site.key, &site.secret);
        assert!(session.is_some(), "the right secret signs in");
    }

    fn credentials_get_only_the_pages_their_scopes_allow(backend) {
        let site = Site::start(backend);
        put_named_goal(&site);
        // Without a scope for the pages, there is no session at all.
        let (writer_key, writer_secret) = site.credential(&["statements/write", "statements/read"]);
        let (reply, session) = site.try_sign_in(&writer_key, &writer_secret);
        assert!(session.is_none());
        assert_eq!(reply.location(), "/ui/sign-in?error=scope");
        let expected = [
            // (scopes, pages answered 200, pages answered 403)
            (vec!["insights"], vec!["/ui/goals", "/ui/goals/install", "/ui/content", "/ui/tickets"], vec!["/ui/statements", "/ui/credentials", "/ui/forwarding", "/ui/audit", "/ui/connectors"]),
            (vec!["insights/read"], vec!["/ui/goals", "/ui/goals/install", "/ui/content", "/ui/tickets"], vec!["/ui/statements", "/ui/credentials", "/ui/forwarding", "/ui/audit", "/ui/connectors"]),
            (vec!["all/read"], vec!["/ui/goals", "/ui/tickets", "/ui/statements"], vec!["/ui/credentials", "/ui/forwarding", "/ui/audit", "/ui/connectors"]),
            (vec!["admin"], vec!["/ui/credentials", "/ui/forwarding", "/ui/audit", "/ui/connectors"], vec!["/ui/goals", "/ui/goals/install", "/ui/content", "/ui/tickets", "/ui/statements"]),
        ];
        for (scopes, allowed, refused) in expected {
            let (key, secret) = site.credential(&scopes);
            let session = site.sign_in(&key, &secret);
            for path in allowed {
                let reply = site.page(path, Some(&session));
                assert_eq!(reply.status, 200, "{scopes:?} {path}: {}", reply.body);
            }
            for path in refused {
                let reply = site.page(path, Some(&session));
                assert_eq!(reply.status, 403, "{scopes:?} {path}: {}", reply.body);
                assert!(!reply.body.contains(SECRET_GOAL_NAME), "{scopes:?} {path} showed data");
            }
        }
        // Reading is not importing: all/read and insights/read may not upload tickets.
        for scope in ["all/read", "insights/read"] {
            let (key, secret) = site.credential(&[scope]);
            let reader = site.sign_in(&key, &secret);
            let (content_type, body) = multipart(&[("csrf", &reader.csrf), ("preset", "generic")], ("file", "t.csv", b"external_id,created\n1,2025-01-01\n"));
            let reply = site.request("POST", "/ui/tickets/preview", &[("Cookie", &reader.cookie), ("Content-Type", &content_type)], &body);
            assert_eq!(reply.status, 403, "{scope}: {}", reply.body);
        }
        // Nor, in the JSON API, editing goals.
        let (key, secret) = site.credential(&["insights/read"]);
        let basic = Site::basic(&key, &secret);
        let reply = site.request("GET", "/insights/goals", &[("Authorization", &basic)], b"");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let goal = br#"{"name": "read only", "activities": ["https://example.com/a"]}"#;
        let reply = site.request("PUT", "/insights/goals/read-only", &[("Authorization", &basic), ("Content-Type", "application/json")], goal);
        assert_eq!(reply.status, 403, "{}", reply.body);
        // The JSON API agrees: an insights credential may not list credentials.
        let (key, secret) = site.credential(&["insights"]);
        let reply = site.request("GET", "/admin/credentials", &[("Authorization", &Site::basic(&key, &secret))], b"");
        assert_eq!(reply.status, 403);
    }

    fn the_forwarding_page_shows_each_rule_with_its_lag_error_and_dead_letters_but_never_its_secret(backend) {
        let site = Site::start(backend);
        let rule = json!({ "url": "http://127.0.0.1:9/xapi", "key": "target-key", "secret": "never-shown-secret",
                           "filter": { "activity_prefix": "https://lms.example.com/" } });
        let made = site.api("POST", "/admin/stores/1/forwarding", "application/json", rule.to_string().as_bytes());
        assert_eq!(made.status, 201, "{}", made.body);
        let (key, secret) = site.credential(&["admin"]);
        let session = site.sign_in(&key, &secret);
        let page = site.page("/ui/forwarding", Some(&session));
        assert_eq!(page.status, 200, "{}", page.body);
        for shown in ["http://127.0.0.1:9/xapi", "https://lms.example.com/", "statements", "Dead letters"] {
            assert!(page.body.contains(shown), "{shown} is on the page: {}", page.body);
        }
        assert!(!page.body.contains("never-shown-secret"));
    }

    fn the_audit_page_shows_admin_acts_to_admins_but_never_a_secret(backend) {
        let site = Site::start(backend);
        let rule = json!({ "url": "http://127.0.0.1:9/xapi", "key": "target-key", "secret": "audit-page-secret" });
        let made = site.api("POST", "/admin/stores/1/forwarding", "application/json", rule.to_string().as_bytes());
        assert_eq!(made.status, 201, "{}", made.body);
        let (key, secret) = site.credential(&["admin"]);
        let session = site.sign_in(&key, &secret);
        let page = site.page("/ui/audit", Some(&session));
        assert_eq!(page.status, 200, "{}", page.body);
        for shown in ["forwarding.create", "credential.create", &key, &site.key, "http://127.0.0.1:9/xapi"] {
            assert!(page.body.contains(shown), "{shown} is on the page: {}", page.body);
        }
        for never in ["audit-page-secret", secret.as_str()] {
            assert!(!page.body.contains(never), "{never} is on the page");
        }
        assert!(page.body.contains("href=\"/ui/audit\""), "the page is in the navigation");
    }

    fn the_connectors_page_shows_each_connectors_state_but_never_its_credentials(backend) {
        let site = Site::start(backend);
        let connector = json!({ "kind": "jira", "base_url": "https://acme.atlassian.net", "every": "6h",
                                "credentials": { "email": "ops@acme.example", "api_token": "never-shown-token" },
                                "filter": "project = HELP" });
        let made = site.api("POST", "/admin/stores/1/connectors", "application/json", connector.to_string().as_bytes());
        assert_eq!(made.status, 201, "{}", made.body);
        let (key, secret) = site.credential(&["admin"]);
        let session = site.sign_in(&key, &secret);
        let page = site.page("/ui/connectors", Some(&session));
        assert_eq!(page.status, 200, "{}", page.body);
        for shown in ["https://acme.atlassian.net", "project = HELP", "6h", "never", "Known through"] {
            assert!(page.body.contains(shown), "{shown} is on the page: {}", page.body);
        }
        assert!(!page.body.contains("never-shown-token") && !page.body.contains("ops@acme.example"));
    }

    fn forms_without_the_session_token_are_refused(backend) {
        let site = Site::start(backend);
        let session = site.sign_in(&site.key, &site.secret);
        for token in ["", "0000", &"f".repeat(64)] {
            let reply = site.post_form("/ui/credentials", Some(&session), &[("csrf", token), ("name", "forged"), ("store", "1"), ("scope", "all")]);
            assert_eq!(reply.status, 403, "{}", reply.body);
            let reply = site.post_form("/ui/sign-out", Some(&session), &[("csrf", token)]);
            assert_eq!(reply.status, 403, "{}", reply.body);
            let (content_type, body) = multipart(&[("csrf", token), ("preset", "generic")], ("file", "t.csv", b"external_id,created\n1,2025-01-01\n"));
            let reply = site.request("POST", "/ui/tickets/preview", &[("Cookie", &session.cookie), ("Content-Type", &content_type)], &body);
            assert_eq!(reply.status, 403, "{}", reply.body);
        }
        let (key, _) = site.credential(&["insights"]);
        let reply = site.post_form(&format!("/ui/credentials/{key}/revoke"), Some(&session), &[("csrf", "nope")]);
        assert_eq!(reply.status, 403);
        let listed = site.api_json("/admin/credentials");
        assert_eq!(listed.as_array().unwrap().len(), 2, "nothing forged was created: {listed}");
        assert!(listed.as_array().unwrap().iter().all(|c| c["revoked"] == json!(false)), "nothing was revoked: {listed}");
        assert_eq!(site.page("/ui/goals", Some(&session)).status, 200, "the session survived the forged sign-out");
        // With the token, the same form works.
        let reply = site.post_form("/ui/credentials", Some(&session), &[("csrf", &session.csrf), ("name", "made"), ("store", "1"), ("scope", "insights")]);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("id=\"new-secret\""), "{}", reply.body);
        // Signing in needs the sign-in page's own token (cookie and field), so another
        // site cannot sign a browser in to its credential.
        let body = support::form(&[("csrf", &"a".repeat(64)), ("key", &site.key), ("secret", &site.secret)]);
        let reply = site.request("POST", "/ui/sign-in", &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes());
        assert_eq!(reply.location(), "/ui/sign-in?error=expired");
        assert!(reply.cookie("tally_session").is_none());
    }

    fn a_revoked_credential_loses_its_session_on_the_next_request(backend) {
        let site = Site::start(backend);
        let (key, secret) = site.credential(&["insights", "admin"]);
        let session = site.sign_in(&key, &secret);
        assert_eq!(site.page("/ui/goals", Some(&session)).status, 200);
        let reply = site.api("DELETE", &format!("/admin/credentials/{key}"), "application/json", b"");
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_sent_to_sign_in(&site.page("/ui/goals", Some(&session)), "/ui/goals after revocation");
        let reply = site.post_form("/ui/credentials", Some(&session), &[("csrf", &session.csrf), ("name", "late"), ("store", "1"), ("scope", "all")]);
        assert_eq!(reply.status, 401, "{}", reply.body);
        // Revoked through the page itself, too.
        let (other_key, other_secret) = site.credential(&["insights"]);
        let other = site.sign_in(&other_key, &other_secret);
        let admin = site.sign_in(&site.key, &site.secret);
        let reply = site.post_form(&format!("/ui/credentials/{other_key}/revoke"), Some(&admin), &[("csrf", &admin.csrf)]);
        assert_eq!(reply.status, 303, "{}", reply.body);
        assert_sent_to_sign_in(&site.page("/ui/tickets", Some(&other)), "/ui/tickets after revocation on the page");
        let (reply, again) = site.try_sign_in(&other_key, &other_secret);
        assert!(again.is_none(), "{}", reply.location());
    }

    fn signing_out_ends_the_session(backend) {
        let site = Site::start(backend);
        let session = site.sign_in(&site.key, &site.secret);
        let reply = site.post_form("/ui/sign-out", Some(&session), &[("csrf", &session.csrf)]);
        assert_eq!(reply.status, 303);
        assert_eq!(reply.location(), "/ui/sign-in?error=signed-out");
        assert_eq!(reply.cookie("tally_session").as_deref(), Some(""), "the cookie is cleared");
        assert_sent_to_sign_in(&site.page("/ui/goals", Some(&session)), "/ui/goals after signing out");
    }

    fn values_from_statements_and_tickets_are_shown_as_text(backend) {
        let site = Site::start(backend);
        let hostile_actor = r#"<script>alert("actor")</script>"#;
        let hostile_object = r#"<img src=x onerror="alert('object')">"#;
        let hostile_verb = "<b>bold</b> & <i>more</i>";
        let statement = json!({
            "actor": { "objectType": "Agent", "name": hostile_actor, "mbox": "mailto:mallory@example.com" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "en-US": hostile_verb } },
            "object": { "id": "https://academy.example.com/install/hostile", "definition": { "name": { "en-US": hostile_object } } },
            "timestamp": "2025-03-10T10:00:00Z",
        });
        site.store_statements(&[statement]);
        let hostile_category = "<script>alert('ticket')</script>";
        let tickets = format!("external_id,created,category,tags,requester\nT-1,2025-03-10T09:00:00Z,\"{hostile_category}\",install,mallory@example.com\n");
        let reply = site.api("POST", "/insights/tickets?preset=generic&source=hostile", "text/csv", tickets.as_bytes());
        assert_eq!(reply.json()["inserted"], json!(1), "{}", reply.body);
        let mut goal = insights::demo::Scenario::working().generate().goal;
        goal["name"] = json!("<svg onload=alert('goal')>");
        site.api("PUT", "/insights/goals/hostile", "application/json", goal.to_string().as_bytes());
        site.caught_up();
        let session = site.sign_in(&site.key, &site.secret);
        let pages = [
            ("/ui/statements", vec![hostile_actor, hostile_verb]),
            ("/ui/statements", vec![hostile_object]),
            ("/ui/tickets", vec![hostile_category]),
            ("/ui/tickets?group_by=category&from=2025-03-01&to=2025-03-31", vec![hostile_category]),
            ("/ui/goals", vec!["<svg onload=alert('goal')>"]),
            ("/ui/goals/hostile", vec!["<svg onload=alert('goal')>"]),
            ("/ui/content?prefix=https%3A%2F%2Facademy.example.com%2F&from=2025-03-01&to=2025-03-31", vec![hostile_object]),
        ];
        for (path, values) in pages {
            let reply = site.page(path, Some(&session));
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            let csp = reply.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{path}: {csp}");
            for value in values {
                assert!(!reply.body.contains(value), "{path} shows {value} as markup");
                assert!(reply.body.contains(&escape(value)), "{path} does not show {value} as text");
            }
            assert!(!reply.body.contains("<script"), "{path} holds a script element");
        }
        // A ticket file's cells, in the import preview.
        let file = format!("external_id,created,subject\nX-1,2025-03-10T09:00:00Z,\"{}\"\n", hostile_actor.replace('"', "\"\""));
        let (content_type, body) = multipart(&[("csrf", &session.csrf), ("preset", "generic")], ("file", "hostile.csv", file.as_bytes()));
        let reply = site.request("POST", "/ui/tickets/preview", &[("Cookie", &session.cookie), ("Content-Type", &content_type)], &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(!reply.body.contains(hostile_actor) && reply.body.contains(&escape(hostile_actor)), "{}", reply.body);
    }
}

/// What HTML escaping makes of a value (as `maud` writes it).
fn escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
