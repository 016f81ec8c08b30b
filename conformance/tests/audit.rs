//! The audit log over HTTP, on both backends: every administrative act leaves one entry
//! naming who did what to which thing with its counts; no secret reaches the log (neither
//! its answers nor its table); a store's admin reads only its store's entries; `more`
//! walks every entry once; filters select and bad parameters are named.
//!
//! These tests read the table behind the server, so they always run their own Tally.

use conformance::{Lrs, Reply, backend_tests, basic};
use insights::demo::Scenario;
use serde_json::{Value, json};
use store::copy::{Cell, TABLES, TableCopy};
use test_support::{Backend, TestDatabase, TestServer};

/// A fresh Tally and its instance admin's key.
fn own(backend: Backend) -> (Lrs, String) {
    let server = TestServer::start(backend);
    let key = server.key.clone();
    (Lrs::for_server(server), key)
}

/// A call beside `/xapi` with `authorization` and a body of `content_type`.
fn send(lrs: &Lrs, authorization: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let url = format!("{}{path}", lrs.root());
    lrs.request(method, "")
        .url(&url)
        .header("Authorization", authorization)
        .header("Content-Type", content_type)
        .body(body)
}

fn audit(lrs: &Lrs, authorization: &str, query: &str) -> Reply {
    lrs.call(&format!("{}/admin/audit{query}", lrs.root()), "GET", authorization, None)
}

/// Every entry a query selects, following `more`, and the number of pages.
fn walk(lrs: &Lrs, authorization: &str, query: &str) -> (Vec<Value>, usize) {
    let (mut entries, mut pages, mut next) = (Vec::new(), 0, format!("{}/admin/audit{query}", lrs.root()));
    loop {
        let reply = lrs.call(&next, "GET", authorization, None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.json();
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["more"].as_str().unwrap() {
            "" => return (entries, pages),
            more => {
                assert!(more.starts_with("/admin/audit?more="), "a relative URL: {more}");
                next = format!("{}{more}", lrs.root());
            }
        }
    }
}

/// Every text cell of the audit log's table, as stored.
fn audit_table_text(db: &TestDatabase) -> Vec<String> {
    let table = TABLES.iter().find(|t| t.name == "audit_log").expect("the audit log is a copied table");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rows = runtime.block_on(async {
        match db.database_url() {
            Some(url) => store::PgStore::connect(url).await.unwrap().page(table, None, 100_000).await,
            None => {
                store::SqliteStore::open_for_admin(db.data_dir()).unwrap().page(table, None, 100_000).await
            }
        }
    });
    rows.unwrap()
        .into_iter()
        .flatten()
        .filter_map(|cell| match cell {
            Cell::Text(text) => Some(text),
            _ => None,
        })
        .collect()
}

/// The one entry of an action (panics when there is none or more than one).
fn only<'a>(entries: &'a [Value], action: &str) -> &'a Value {
    let found: Vec<&Value> = entries.iter().filter(|e| e["action"] == action).collect();
    assert_eq!(found.len(), 1, "one {action} entry in {entries:#?}");
    found[0]
}

const ZENDESK: &str = "Id,Created at,Solved at,Status,Tags,Requester email,Ticket type,Priority,Via,Subject,Group\r\n\
    101,2025-02-10 09:00:00,2025-02-11 10:00:00,Solved,install,ann@example.com,Problem,High,Web,Cannot install,Platform\r\n\
    102,2025-02-12 11:30:00,,Open,install,bob@example.com,Question,Normal,Email,Installer hangs,Platform\r\n\
    103,not a date,,Open,billing,carl@example.com,Question,Low,Web,Invoice,Billing\r\n";

backend_tests! {
    fn every_administrative_act_leaves_one_entry_and_no_secret(backend) {
        let (lrs, admin_key) = own(backend);
        let me = lrs.authorization().to_string();
        let store = lrs.admin("POST", "/stores", Some(json!({ "name": "partners" }))).json()["id"].as_i64().unwrap();
        assert_eq!(lrs.admin("PATCH", &format!("/stores/{store}"), Some(json!({ "name": "partners eu" }))).status, 200);
        let made = lrs.admin("POST", "/credentials", Some(json!({ "store": store, "scopes": ["all"], "name": "lms",
            "acts_for": { "mbox": "mailto:teacher@example.com" } }))).json();
        let (key, secret) = (made["key"].as_str().unwrap().to_string(), made["secret"].as_str().unwrap().to_string());
        assert_eq!(lrs.admin("PATCH", &format!("/credentials/{key}"), Some(json!({ "name": "lms prod" }))).status, 200);
        let forward_secret = "forwarding-target-secret-7f3a91";
        let rule = lrs.admin("POST", &format!("/stores/{store}/forwarding"), Some(json!({
            "url": "https://lrs.example.com/xapi", "key": "target-key", "secret": forward_secret }))).json()["id"].as_i64().unwrap();
        assert_eq!(lrs.admin("PATCH", &format!("/stores/{store}/forwarding/{rule}"), Some(json!({ "enabled": false }))).status, 200);
        assert_eq!(lrs.admin("DELETE", &format!("/stores/{store}/forwarding/{rule}"), None).status, 204);
        let line = json!({ "actor": { "mbox": "mailto:learner@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
            "object": { "id": "http://example.com/a" } }).to_string();
        let ndjson = format!("{line}\n{line}\nnot json\n");
        let imported = send(&lrs, &me, "POST", &format!("/admin/stores/{store}/statements.ndjson"), "application/x-ndjson", ndjson.as_bytes());
        assert_eq!(imported.status, 200, "{}", imported.body);
        let tickets = send(&lrs, &me, "POST", "/insights/tickets?preset=zendesk&source=helpdesk", "text/csv", ZENDESK.as_bytes());
        assert_eq!(tickets.status, 200, "{}", tickets.body);
        let goal = Scenario::working().generate().goal.to_string();
        assert_eq!(send(&lrs, &me, "PUT", "/insights/goals/install", "application/json", goal.as_bytes()).status, 201);
        let change = json!({ "at": "2025-03-20", "kind": "placement", "note": "a private note" }).to_string();
        let change = send(&lrs, &me, "POST", "/insights/goals/install/changes", "application/json", change.as_bytes()).json();
        let change = change["id"].as_str().unwrap().to_string();
        assert_eq!(send(&lrs, &me, "DELETE", &format!("/insights/goals/install/changes/{change}"), "text/plain", b"").status, 204);
        assert_eq!(send(&lrs, &me, "DELETE", "/insights/goals/install", "text/plain", b"").status, 204);
        assert_eq!(lrs.admin("DELETE", &format!("/credentials/{key}"), None).status, 204);
        assert_eq!(lrs.admin("DELETE", &format!("/stores/{store}"), None).status, 204);

        let reply = audit(&lrs, &me, "");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let entries = reply.json()["entries"].as_array().unwrap().clone();
        let (s, rule) = (store.to_string(), rule.to_string());
        let expected = [
            ("store.create", store, s.as_str(), json!({ "name": "partners" })),
            ("store.rename", store, s.as_str(), json!({ "name": "partners eu" })),
            ("store.revoke", store, s.as_str(), json!({})),
            ("credential.create", store, key.as_str(), json!({ "name": "lms", "scopes": ["all"], "acts_for_a_user": true })),
            ("credential.rename", store, key.as_str(), json!({ "name": "lms prod", "scopes": ["all"], "acts_for_a_user": true })),
            ("credential.revoke", store, key.as_str(), json!({ "name": "lms prod", "scopes": ["all"], "acts_for_a_user": true })),
            ("forwarding.create", store, rule.as_str(), json!({ "url": "https://lrs.example.com/xapi", "verbs": [],
                "activity_prefix": null, "max_attempts": 10 })),
            ("forwarding.disable", store, rule.as_str(), json!({})),
            ("forwarding.delete", store, rule.as_str(), json!({})),
            ("statements.import", store, s.as_str(), json!({ "lines": 3, "accepted": 2, "rejected": 1 })),
            ("tickets.import", 1, "helpdesk", json!({ "inserted": 2, "updated": 0, "rejected": 1, "stored": true, "complete": true })),
            ("goal.put", 1, "install", json!({ "created": true })),
            ("change.add", 1, "install", json!({ "change": change, "kind": "placement" })),
            ("change.delete", 1, "install", json!({ "change": change })),
            ("goal.delete", 1, "install", json!({})),
        ];
        assert_eq!(entries.len(), expected.len(), "one entry per act: {entries:#?}");
        for (action, store, subject, details) in expected {
            let entry = only(&entries, action);
            assert_eq!((&entry["store"], &entry["actor"], &entry["subject"]), (&json!(store), &json!(admin_key), &json!(subject)), "{entry}");
            assert_eq!(entry["details"], details, "{action}");
            assert!(xapi::Timestamp::parse(entry["at"].as_str().unwrap()).is_some(), "{entry}");
        }
        // Newest first.
        let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
        assert_eq!(entries[0]["action"], "store.revoke");

        // No secret, no acting user, no learner, no free-text note: not in the answer, not in the table.
        let server = lrs.into_server().unwrap();
        let stored = audit_table_text(server.database().unwrap());
        assert!(stored.iter().any(|t| t == &key), "the table is read: {stored:?}");
        for never in [secret.as_str(), forward_secret, "teacher@example.com", "learner@example.com", "ann@example.com", "a private note"] {
            assert!(!reply.body.contains(never), "{never} is in GET /admin/audit: {}", reply.body);
            assert!(stored.iter().all(|t| !t.contains(never)), "{never} is in the audit_log table");
        }
    }

    fn a_store_admin_reads_only_its_stores_entries(backend) {
        let (lrs, _) = own(backend);
        let me = lrs.authorization().to_string();
        let (a, a_admin) = lrs.tenant("A", &["admin"]);
        let (b, _) = lrs.tenant("B", &["admin"]);
        // A's admin acts in its store.
        let made = lrs.call(&format!("{}/admin/credentials", lrs.root()), "POST", &a_admin,
            Some(json!({ "store": a, "scopes": ["statements/write"], "name": "lms" })));
        assert_eq!(made.status, 201, "{}", made.body);
        let made_key = made.json()["key"].as_str().unwrap().to_string();

        let (theirs, _) = walk(&lrs, &a_admin, "");
        assert!(theirs.iter().all(|e| e["store"] == json!(a)), "{theirs:#?}");
        // A's creation, its first credential (both by the instance admin) and A's admin's act.
        let actions: Vec<&str> = theirs.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["credential.create", "credential.create", "store.create"], "{theirs:#?}");
        assert_eq!(theirs[0]["subject"], json!(made_key));
        let a_key = String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD,
            a_admin.trim_start_matches("Basic ")).unwrap()).unwrap();
        assert_eq!(theirs[0]["actor"], json!(a_key.split(':').next().unwrap()));
        assert_eq!(walk(&lrs, &a_admin, &format!("?store={a}")).0, theirs);
        audit(&lrs, &a_admin, &format!("?store={b}")).assert_error(404, "");
        audit(&lrs, &a_admin, "?store=1").assert_error(404, "");
        // The instance admin reads every store's.
        let (all, _) = walk(&lrs, &me, "");
        assert_eq!(all.len(), 5, "{all:#?}");
        assert_eq!(walk(&lrs, &me, &format!("?store={b}")).0.len(), 2);
        // Without the admin scope, no log.
        let writer = lrs.credential(a, &["statements/write"]);
        assert_eq!(audit(&lrs, &writer, "").status, 403);
        assert_eq!(audit(&lrs, &basic("nobody", "wrong"), "").status, 401);
    }

    fn more_walks_every_entry_once_and_filters_select(backend) {
        let (lrs, admin_key) = own(backend);
        let me = lrs.authorization().to_string();
        let stores: Vec<i64> = (0..7).map(|i| {
            lrs.admin("POST", "/stores", Some(json!({ "name": format!("s{i}") }))).json()["id"].as_i64().unwrap()
        }).collect();
        let (everything, pages) = walk(&lrs, &me, "");
        assert_eq!((everything.len(), pages), (7, 1));
        let (paged, pages) = walk(&lrs, &me, "?limit=3");
        assert_eq!(pages, 3);
        assert_eq!(paged, everything, "every entry once, in the same order");
        // An act after the first page is not in the rest of that walk.
        let first = audit(&lrs, &me, "?limit=3").json();
        lrs.admin("POST", "/stores", Some(json!({ "name": "late" })));
        let mut rest = walk(&lrs, &me, "").0;
        rest.remove(0);
        assert_eq!(rest, everything);
        let next = lrs.call(&format!("{}{}", lrs.root(), first["more"].as_str().unwrap()), "GET", &me, None).json();
        assert_eq!(next["entries"].as_array().unwrap()[..], everything[3..6]);

        let subjects = |query: &str| -> Vec<String> {
            walk(&lrs, &me, query).0.iter().map(|e| e["subject"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(subjects(&format!("?store={}", stores[2])), [stores[2].to_string()]);
        assert_eq!(subjects("?action=store.create&limit=2").len(), 8);
        assert_eq!(subjects("?action=store.revoke"), Vec::<String>::new());
        assert_eq!(subjects(&format!("?actor={admin_key}")).len(), 8);
        assert_eq!(subjects("?actor=someone-else"), Vec::<String>::new());
        // since is exclusive and until inclusive (two acts may share an instant, so the
        // expected subjects come from the times the log shows).
        let now = walk(&lrs, &me, "").0;
        let instant = |e: &Value| xapi::Timestamp::parse(e["at"].as_str().unwrap()).unwrap().instant;
        let at = now[4]["at"].as_str().unwrap();
        let selected = |keep: &dyn Fn(xapi::Timestamp) -> bool| -> Vec<String> {
            now.iter().filter(|e| keep(instant(e))).map(|e| e["subject"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(subjects(&format!("?since={}", conformance::encode(at))), selected(&|t| t > instant(&now[4])));
        assert_eq!(subjects(&format!("?until={}", conformance::encode(at))), selected(&|t| t <= instant(&now[4])));

        for (query, name) in [("?limit=x", "limit"), ("?limit=-1", "limit"), ("?since=yesterday", "since"),
            ("?until=3", "until"), ("?store=abc", "store"), ("?colour=red", "colour"), ("?more=!!", "more"),
            ("?limit=1&limit=2", "limit")] {
            audit(&lrs, &me, query).assert_error(400, name);
        }
    }
}
