//! `tally pull` from a second real Tally process: every statement with its id, body,
//! authority and attachments; idempotent and resumable; a source that is not an LRS,
//! refuses the credential or fails refused with a clear message and nothing stored.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

use serde_json::{Value, json};
use support::{Serving, stdout_of, tally_on as tally};
use test_support::{TestDatabase, backend_tests};

const ADMIN: (&str, &str) = ("ops", "pull-secret");

fn serving(db: &TestDatabase) -> Serving {
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    Serving::start(command)
}

fn pull(into: &TestDatabase, from: &str, secret: &str) -> Output {
    tally(into)
        .args(["pull", "--from", from, "--key", ADMIN.0, "--secret", secret])
        .output()
        .expect("tally runs")
}

fn statement(mbox: &str) -> Value {
    json!({ "actor": { "mbox": format!("mailto:{mbox}") }, "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
            "object": { "id": "http://example.com/course" }, "timestamp": "2025-03-01T10:00:00Z" })
}

/// An HTTP server that answers `/about` as an LRS and everything else with a 503.
fn failing_lrs() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..read]).to_string();
            let (status, body) = if head.starts_with("GET /xapi/about") {
                ("200 OK", r#"{"version":["1.0.3"]}"#)
            } else {
                ("503 Service Unavailable", r#"{"error":"overloaded"}"#)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    format!("http://{address}/xapi")
}

backend_tests! {
    fn a_pull_stores_every_statement_with_its_id_body_authority_and_attachments_once_and_resumes(backend) {
        let source_db = TestDatabase::new(backend);
        let source = serving(&source_db);
        let ids = serde_json::to_string(&json!([statement("a@example.com"), statement("b@example.com")])).unwrap();
        let (status, body) = source.request("POST", ADMIN.0, ADMIN.1, &ids);
        assert_eq!(status, 200, "{body}");
        source.post_with_attachment(ADMIN, statement("ann@example.com"), "certificate bytes");
        let target = TestDatabase::new(backend);
        let first = pull(&target, &source.base_url, ADMIN.1);
        let out = String::from_utf8_lossy(&first.stdout).to_string();
        assert!(first.status.success(), "{out}{}", String::from_utf8_lossy(&first.stderr));
        assert!(out.contains("pulling every statement") && out.contains("pulled: 3 statements read"), "{out}");
        assert!(out.contains("with 1 attachments"), "{out}");

        let again = pull(&target, &source.base_url, ADMIN.1);
        let again_out = String::from_utf8_lossy(&again.stdout).to_string();
        assert!(again.status.success() && again_out.contains("pulling statements stored after"), "resumes: {again_out}");
        let (status, body) = source.request("POST", ADMIN.0, ADMIN.1, &statement("c@example.com").to_string());
        assert_eq!(status, 200, "{body}");
        assert!(pull(&target, &source.base_url, ADMIN.1).status.success());

        let originals = source.statements(ADMIN);
        drop(source);
        let copy = serving(&target);
        let pulled = copy.statements(ADMIN);
        assert_eq!(pulled.len(), 4, "each statement once, however often the pull runs: {pulled:?}");
        for (original, pulled) in originals.iter().zip(&pulled) {
            for field in ["id", "actor", "verb", "object", "timestamp", "authority", "attachments"] {
                assert_eq!(original[field], pulled[field], "{field} travels unchanged");
            }
        }
        let with_attachment = pulled.iter().find(|s| s.get("attachments").is_some()).unwrap();
        let reply = copy.send("GET", &format!("/xapi/statements?statementId={}&attachments=true", with_attachment["id"].as_str().unwrap()), ADMIN, "application/json", "");
        assert!(reply.body.contains("certificate bytes"), "the attachment's content came too: {}", reply.body);
    }

    fn a_pull_refuses_what_is_not_an_lrs_a_refused_credential_and_a_failing_source_and_stores_nothing(backend) {
        let source_db = TestDatabase::new(backend);
        let source = serving(&source_db);
        let (status, body) = source.request("POST", ADMIN.0, ADMIN.1, &statement("a@example.com").to_string());
        assert_eq!(status, 200, "{body}");
        let target = TestDatabase::new(backend);
        let refused = pull(&target, &source.base_url, "wrong");
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("the source refused the key and secret (401)"));
        let not_an_lrs = pull(&target, &format!("{}/ui", source.root()), ADMIN.1);
        assert!(String::from_utf8_lossy(&not_an_lrs.stderr).contains("is not an xAPI LRS"), "{}", String::from_utf8_lossy(&not_an_lrs.stderr));
        let failing = pull(&target, &failing_lrs(), ADMIN.1);
        let message = String::from_utf8_lossy(&failing.stderr).to_string();
        assert!(!failing.status.success() && message.contains("answered 503") && message.contains("a re-run"), "{message}");
        let bad_since = tally(&target).args(["pull", "--from", &source.base_url, "--key", ADMIN.0, "--secret", ADMIN.1, "--since", "yesterday"]).output().unwrap();
        assert!(String::from_utf8_lossy(&bad_since.stderr).contains("--since"));
        let exported = stdout_of(tally(&target).args(["export", "statements", "--format", "ndjson"]));
        assert!(exported.is_empty(), "nothing was stored: {exported}");
    }

    fn a_pull_that_keeps_stored_gives_each_statement_the_sources_stored_time_and_since_selects_by_it(backend) {
        let source_db = TestDatabase::new(backend);
        let source = serving(&source_db);
        for mbox in ["a@example.com", "b@example.com", "c@example.com"] {
            let (status, body) = source.request("POST", ADMIN.0, ADMIN.1, &statement(mbox).to_string());
            assert_eq!(status, 200, "{body}");
        }
        let originals = source.statements(ADMIN);
        let target = TestDatabase::new(backend);
        let kept = keep_stored_pull(&target, &source.base_url);
        assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
        let again = keep_stored_pull(&target, &source.base_url);
        assert!(again.status.success(), "a re-run keeps working: {}", String::from_utf8_lossy(&again.stderr));
        drop(source);

        let copy = serving(&target);
        let pulled = copy.statements(ADMIN);
        let stored = |list: &[Value]| list.iter().map(|s| s["stored"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(stored(&pulled), stored(&originals), "each statement keeps the source's stored time");
        // The pull ran after the source stored them all: by the pull's own times, `since` the
        // source's last time would find all three and `until` none.
        let last = originals[2]["stored"].as_str().unwrap().replace('+', "%2B");
        let ids_of = |query: &str| {
            let reply = copy.send("GET", &format!("/xapi/statements?{query}"), ADMIN, "application/json", "");
            let answer: Value = serde_json::from_str(&reply.body).unwrap();
            answer["statements"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids_of(&format!("since={last}")), Vec::<Value>::new(), "since selects by the kept times");
        let newest_first: Vec<Value> = originals.iter().rev().map(|s| s["id"].clone()).collect();
        assert_eq!(ids_of(&format!("until={last}")), newest_first, "until selects by the kept times");
    }

    fn a_pull_that_keeps_stored_is_refused_into_a_store_holding_later_statements_and_stores_none(backend) {
        let source_db = TestDatabase::new(backend);
        let source = serving(&source_db);
        let (status, body) = source.request("POST", ADMIN.0, ADMIN.1, &statement("a@example.com").to_string());
        assert_eq!(status, 200, "{body}");
        let target = TestDatabase::new(backend);
        let newer = serving(&target);
        let (status, body) = newer.request("POST", ADMIN.0, ADMIN.1, &statement("here@example.com").to_string());
        assert_eq!(status, 200, "{body}");
        drop(newer);
        let refused = keep_stored_pull(&target, &source.base_url);
        let message = String::from_utf8_lossy(&refused.stderr).to_string();
        assert!(!refused.status.success(), "{message}");
        assert!(message.contains("stored") && message.contains("earlier than"), "the rule is named: {message}");
        let exported = stdout_of(tally(&target).args(["export", "statements", "--format", "ndjson"]));
        assert_eq!(exported.lines().count(), 1, "only the store's own statement is there: {exported}");
        let without = pull(&target, &source.base_url, ADMIN.1);
        assert!(without.status.success(), "without --keep-stored the same pull succeeds: {}", String::from_utf8_lossy(&without.stderr));
    }
}

fn keep_stored_pull(into: &TestDatabase, from: &str) -> Output {
    tally(into)
        .args(["pull", "--from", from, "--key", ADMIN.0, "--secret", ADMIN.1, "--keep-stored"])
        .output()
        .expect("tally runs")
}
