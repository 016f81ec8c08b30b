//! Stores, credentials and scopes: many tenants in one Tally, each seeing only its own
//! data, each credential doing only what its scopes allow (xAPI 1.0.3 Communication §4.2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use conformance::statements::{agent, statement, statement_with, verb_id, voiding};
use conformance::{Lrs, attachment_for, backend_tests, basic, encode as enc, multipart};
use serde_json::{Value, json};
use test_support::{Backend, TestDatabase, TestServer};
use uuid::Uuid;

fn state_path(agent_mbox: &str, id: &str) -> String {
    format!(
        "/activities/state?activityId={}&agent={}&stateId={id}",
        enc("http://example.com/course"),
        enc(&json!({ "mbox": agent_mbox }).to_string())
    )
}

backend_tests! {
    fn stores_and_credentials_are_managed_through_the_admin_api(backend) {
        let lrs = Lrs::start(backend);
        let created = lrs.admin("POST", "/stores", Some(json!({ "name": "Partner enablement" })));
        assert_eq!(created.status, 201);
        let store = created.json();
        assert_eq!(store["name"], json!("Partner enablement"));
        let id = store["id"].as_i64().unwrap();
        let made = lrs.admin("POST", "/credentials", Some(json!({ "store": id, "scopes": ["statements/write"], "name": "LMS" })));
        assert_eq!(made.status, 201);
        let made = made.json();
        for field in ["key", "secret", "store", "scopes", "name"] {
            assert!(made.get(field).is_some(), "{field} in {made}");
        }
        let secret = made["secret"].as_str().unwrap().to_string();
        let listed = lrs.admin("GET", &format!("/credentials?store={id}"), None);
        assert!(!listed.body.contains(&secret), "the secret is shown only once");
        assert_eq!(listed.json().as_array().unwrap().len(), 1);
        let renamed = lrs.admin("PATCH", &format!("/stores/{id}"), Some(json!({ "name": "Partners" })));
        assert_eq!(renamed.json()["name"], json!("Partners"));
        let key = made["key"].as_str().unwrap();
        let renamed = lrs.admin("PATCH", &format!("/credentials/{key}"), Some(json!({ "name": "LMS (prod)" })));
        assert_eq!(renamed.json()["name"], json!("LMS (prod)"));
        assert!(lrs.admin("GET", "/stores", None).json().as_array().unwrap().len() >= 2);
        lrs.admin("POST", "/stores", Some(json!({ "name": "x", "color": "red" }))).assert_error(400, "");
        lrs.admin("POST", "/credentials", Some(json!({ "store": id, "scopes": ["everything"], "name": "x" }))).assert_error(400, "scopes");
        lrs.admin("POST", "/credentials", Some(json!({ "store": 999_999, "scopes": ["all"], "name": "x" }))).assert_error(400, "store");
    }

    fn a_revoked_credential_or_store_is_refused_on_the_next_request(backend) {
        let lrs = Lrs::start(backend);
        let (id, auth) = lrs.tenant("short-lived", &["all"]);
        let statements = format!("{}/statements", lrs.base_url);
        assert_eq!(lrs.call(&statements, "GET", &auth, None).status, 200);
        let key = String::from_utf8(STANDARD.decode(auth.trim_start_matches("Basic ")).unwrap()).unwrap();
        let key = key.split(':').next().unwrap().to_string();
        assert_eq!(lrs.admin("DELETE", &format!("/credentials/{key}"), None).status, 204);
        assert_eq!(lrs.call(&statements, "GET", &auth, None).status, 401);
        let other = lrs.credential(id, &["all"]);
        assert_eq!(lrs.call(&statements, "GET", &other, None).status, 200);
        assert_eq!(lrs.admin("DELETE", &format!("/stores/{id}"), None).status, 204);
        assert_eq!(lrs.call(&statements, "GET", &other, None).status, 401, "a revoked store's credentials stop");
        lrs.admin("DELETE", "/stores/1", None).assert_error(400, "id");
    }

    fn another_stores_statements_cannot_be_read_overwritten_or_voided(backend) {
        let lrs = Lrs::start(backend);
        let (_, other) = lrs.tenant("B", &["all"]);
        let verb = verb_id();
        let id = lrs.store_one(&statement_with(agent(), &verb, "http://example.com/a"));
        let original = lrs.get(&format!("/statements?statementId={id}")).body;
        let b = |method: &str, path: &str, body: Option<Value>| lrs.call(&format!("{}{path}", lrs.base_url), method, &other, body);
        assert_eq!(b("GET", &format!("/statements?statementId={id}"), None).status, 404);
        assert_eq!(b("GET", &format!("/statements?voidedStatementId={id}"), None).status, 404);
        assert_eq!(b("GET", &format!("/statements?verb={}", enc(&verb)), None).json()["statements"], json!([]));
        // The same id in B is B's own statement; A's is untouched, and B cannot void it.
        assert_eq!(b("PUT", &format!("/statements?statementId={id}"), Some(statement())).status, 204);
        assert_eq!(b("POST", "/statements", Some(voiding(Uuid::parse_str(&id).unwrap()))).status, 200);
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).body, original);
    }

    fn another_stores_documents_activities_and_agents_are_invisible(backend) {
        let lrs = Lrs::start(backend);
        let (_, other) = lrs.tenant("B", &["all"]);
        let b = |method: &str, path: &str, body: Option<Value>| lrs.call(&format!("{}{path}", lrs.base_url), method, &other, body);
        let mbox = format!("mailto:{}@example.com", Uuid::new_v4().simple());
        let doc = state_path(&mbox, "bookmark");
        assert_eq!(lrs.post_json(&doc, &json!({ "page": 7 })).status, 204);
        assert_eq!(b("GET", &doc, None).status, 404);
        let list = doc.replace("&stateId=bookmark", "");
        assert_eq!(b("GET", &list, None).json(), json!([]));
        assert_eq!(b("POST", &doc, Some(json!({ "page": 1 }))).status, 204, "B writes its own document");
        assert_eq!(b("DELETE", &list, None).status, 204);
        assert_eq!(lrs.get(&doc).json(), json!({ "page": 7 }), "A's document is untouched");
        let activity = format!("http://example.com/videos/{}", Uuid::new_v4().simple());
        let mut s = statement_with(json!({ "mbox": mbox, "name": "Secret Name" }), "http://example.com/verbs/a", &activity);
        s["object"]["definition"] = json!({ "name": { "en-US": "Confidential" } });
        lrs.store_one(&s);
        let got = b("GET", &format!("/activities?activityId={}", enc(&activity)), None).json();
        assert!(got.get("definition").is_none(), "{got}");
        let person = b("GET", &format!("/agents?agent={}", enc(&json!({ "mbox": mbox }).to_string())), None).json();
        assert!(person.get("name").is_none(), "{person}");
    }

    fn another_stores_attachments_are_not_served(backend) {
        let lrs = Lrs::start(backend);
        let (_, other) = lrs.tenant("B", &["all"]);
        let content = b"A's confidential slides";
        let mut s = statement();
        s["attachments"] = json!([attachment_for(content, "text/plain", "http://example.com/slides")]);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("text/plain", content)]));
        assert_eq!(reply.status, 200);
        // B declares the same hash with a fileUrl and asks for attachments.
        let mut attachment = attachment_for(content, "text/plain", "http://example.com/slides");
        attachment["fileUrl"] = json!("http://example.com/elsewhere");
        let mut mine = statement();
        mine["attachments"] = json!([attachment]);
        let id = lrs.call(&format!("{}/statements", lrs.base_url), "POST", &other, Some(mine)).json()[0].clone();
        let got = lrs.call(&format!("{}/statements?statementId={}&attachments=true", lrs.base_url, id.as_str().unwrap()), "GET", &other, None);
        assert!(!got.body.contains("confidential"), "{}", got.body);
    }

    fn a_store_admin_manages_only_its_own_store(backend) {
        let lrs = Lrs::start(backend);
        let (b_id, b_admin) = lrs.tenant("B", &["admin"]);
        let url = |path: &str| format!("{}/admin{path}", lrs.root());
        assert_eq!(lrs.call(&url("/stores"), "POST", &b_admin, Some(json!({ "name": "C" }))).status, 403);
        let listed = lrs.call(&url("/credentials"), "GET", &b_admin, None).json();
        assert!(listed.as_array().unwrap().iter().all(|c| c["store"] == json!(b_id)), "{listed}");
        let stores = lrs.call(&url("/stores"), "GET", &b_admin, None).json();
        assert_eq!(stores.as_array().unwrap().len(), 1);
        assert_eq!(lrs.call(&url("/stores/1"), "GET", &b_admin, None).status, 404);
        let a_credential = lrs.authorization().to_string();
        let a_key = String::from_utf8(STANDARD.decode(a_credential.trim_start_matches("Basic ")).unwrap()).unwrap();
        let a_key = a_key.split(':').next().unwrap();
        assert_eq!(lrs.call(&url(&format!("/credentials/{a_key}")), "DELETE", &b_admin, None).status, 404);
        let into_a = json!({ "store": 1, "scopes": ["all"], "name": "sneaky" });
        assert_eq!(lrs.call(&url("/credentials"), "POST", &b_admin, Some(into_a)).status, 400);
        let own = json!({ "store": b_id, "scopes": ["statements/read"], "name": "reporting" });
        assert_eq!(lrs.call(&url("/credentials"), "POST", &b_admin, Some(own)).status, 201);
    }

    fn every_scope_opens_exactly_its_endpoints(backend) {
        let lrs = Lrs::start(backend);
        let mbox = format!("mailto:{}@example.com", Uuid::new_v4().simple());
        let profile = format!("/activities/profile?activityId={}&profileId=p", enc("http://example.com/a"));
        let agent_profile = format!("/agents/profile?agent={}&profileId=p", enc(&json!({ "mbox": mbox }).to_string()));
        // (name, method, xAPI path or admin path, body)
        let endpoints: Vec<(&str, &str, String, Option<Value>)> = vec![
            ("write statements", "POST", "/statements".into(), Some(statement())),
            ("read statements", "GET", "/statements".into(), None),
            ("write state", "PUT", state_path(&mbox, "s"), Some(json!({}))),
            ("read state", "GET", state_path(&mbox, "s"), None),
            ("write profile", "POST", profile.clone(), Some(json!({}))),
            ("read profile", "GET", agent_profile.clone(), None),
            ("read activities", "GET", format!("/activities?activityId={}", enc("http://example.com/a")), None),
            ("read agents", "GET", format!("/agents?agent={}", enc(&json!({ "mbox": mbox }).to_string())), None),
            ("admin", "GET", "ADMIN/credentials".into(), None),
        ];
        // Which endpoints each scope opens.
        let allowed: &[(&str, &[&str])] = &[
            ("statements/write", &["write statements"]),
            ("statements/read", &["read statements", "read activities", "read agents"]),
            ("statements/read/mine", &["read statements"]),
            ("state", &["write state", "read state", "read activities", "read agents"]),
            ("define", &["read activities", "read agents"]),
            ("profile", &["write profile", "read profile", "read activities", "read agents"]),
            ("all/read", &["read statements", "read state", "read profile", "read activities", "read agents"]),
            ("all", &["write statements", "read statements", "write state", "read state", "write profile", "read profile", "read activities", "read agents"]),
            ("admin", &["admin"]),
            ("insights", &[]),
        ];
        for (scope, opens) in allowed {
            let auth = lrs.credential(1, &[scope]);
            for (name, method, path, body) in &endpoints {
                let url = match path.strip_prefix("ADMIN") {
                    Some(admin_path) => format!("{}/admin{admin_path}", lrs.root()),
                    None => format!("{}{path}", lrs.base_url),
                };
                let reply = lrs.call(&url, method, &auth, body.clone());
                if opens.contains(name) {
                    assert!(reply.status != 403 && reply.status != 401, "{scope} should open {name}: {} {}", reply.status, reply.body);
                } else {
                    assert_eq!(reply.status, 403, "{scope} should not open {name}: {}", reply.body);
                    assert!(reply.body.contains("scope"), "the 403 names the scope needed: {}", reply.body);
                }
            }
        }
    }

    fn read_mine_sees_only_the_credentials_own_statements(backend) {
        let lrs = Lrs::start(backend);
        let mine = lrs.credential(1, &["statements/write", "statements/read/mine"]);
        let statements = format!("{}/statements", lrs.base_url);
        let verb = verb_id();
        let own = lrs.call(&statements, "POST", &mine, Some(statement_with(agent(), &verb, "http://example.com/a"))).json()[0].clone();
        let others = lrs.store_one(&statement_with(agent(), &verb, "http://example.com/a"));
        let seen = lrs.call(&format!("{statements}?verb={}", enc(&verb)), "GET", &mine, None).json();
        let ids: Vec<&Value> = seen["statements"].as_array().unwrap().iter().map(|s| &s["id"]).collect();
        assert_eq!(ids, vec![&own]);
        assert_eq!(lrs.call(&format!("{statements}?statementId={others}"), "GET", &mine, None).status, 404);
        assert_eq!(lrs.call(&format!("{statements}?statementId={}", own.as_str().unwrap()), "GET", &mine, None).status, 200);
    }

    fn the_authority_comes_from_the_credential_whatever_the_client_claims(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["authority"] = json!({ "objectType": "Agent", "mbox": "mailto:ceo@example.com" });
        let id = lrs.store_one(&s);
        let authority = lrs.get(&format!("/statements?statementId={id}")).json()["authority"].clone();
        assert_eq!(authority["account"]["homePage"], json!("https://tally.invalid"));
        assert_ne!(authority["mbox"], json!("mailto:ceo@example.com"));
    }

    fn a_client_acting_for_a_user_makes_a_two_member_group_authority(backend) {
        let lrs = Lrs::start(backend);
        let user = json!({ "objectType": "Agent", "mbox": "mailto:learner@example.com" });
        let made = lrs.admin("POST", "/credentials", Some(json!({ "store": 1, "scopes": ["all"], "name": "chatbot", "acts_for": user })));
        assert_eq!(made.status, 201, "{}", made.body);
        let made = made.json();
        let auth = basic(made["key"].as_str().unwrap(), made["secret"].as_str().unwrap());
        let statements = format!("{}/statements", lrs.base_url);
        let id = lrs.call(&statements, "POST", &auth, Some(statement())).json()[0].clone();
        let authority = lrs.get(&format!("/statements?statementId={}", id.as_str().unwrap())).json()["authority"].clone();
        assert_eq!(authority["objectType"], json!("Group"));
        assert_eq!(authority["member"].as_array().unwrap().len(), 2);
        assert_eq!(authority["member"][1], user);
    }

    fn repeated_failed_logins_from_one_address_are_slowed(backend) {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return;
        }
        let config = server::AppConfig { auth_failures_per_minute: 3, workers: 2, ..Default::default() };
        let lrs = Lrs::for_server(TestServer::start_with(TestDatabase::new(backend), config));
        let statements = format!("{}/statements", lrs.base_url);
        for _ in 0..3 {
            assert_eq!(lrs.call(&statements, "GET", &basic("guess", "wrong"), None).status, 401);
        }
        let slowed = lrs.call(&statements, "GET", lrs.authorization(), None);
        assert_eq!(slowed.status, 429, "even a right guess waits now");
        assert!(slowed.header("Retry-After").is_some());
    }
}

/// Revocation reaches every server process: two Tally processes on one PostgreSQL.
#[test]
fn revocation_takes_effect_on_every_server_process() {
    let database = TestDatabase::new(Backend::Postgres);
    let first = TestServer::start_with(database, server::AppConfig { workers: 1, ..Default::default() });
    let database_ref = first_database(&first);
    let second =
        TestServer::start_beside(database_ref, server::AppConfig { workers: 1, ..Default::default() });
    let (one, two) = (Lrs::for_server(first), Lrs::for_server(second));
    let made = one
        .admin("POST", "/credentials", Some(json!({ "store": 1, "scopes": ["all"], "name": "roaming" })))
        .json();
    let auth = basic(made["key"].as_str().unwrap(), made["secret"].as_str().unwrap());
    let on_two = format!("{}/statements", two.base_url);
    assert_eq!(two.call(&on_two, "GET", &auth, None).status, 200);
    assert_eq!(
        one.admin("DELETE", &format!("/credentials/{}", made["key"].as_str().unwrap()), None).status,
        204
    );
    assert_eq!(two.call(&on_two, "GET", &auth, None).status, 401);
    drop(two);
}

fn first_database(server: &TestServer) -> &TestDatabase {
    server.database().expect("the first server owns the database")
}
