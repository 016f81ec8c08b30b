//! `tally copy`, run as an operator would: a whole Tally from one backend to the other,
//! checked through the HTTP API of a server on the copy; a copy killed with SIGKILL and run
//! again; a target that holds other data refused.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use serde_json::{Value, json};
use support::{Serving, field, stdout_of, tally_on as tally};
use test_support::{Backend, TestDatabase, backend_tests};

/// The place a `--from` or `--to` names for a test database.
fn place(db: &TestDatabase) -> String {
    match db.database_url() {
        Some(url) => url.to_string(),
        None => db.data_dir().display().to_string(),
    }
}

fn other(backend: Backend) -> Backend {
    match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    }
}

const ADMIN: (&str, &str) = ("ops", "copy-secret");
/// The key the servers on both sides seal helpdesk credentials with.
const SECRET_KEY: &str = "Y29weS10ZXN0LWtleS10aGF0LWlzLTMyLWJ5dGVzISE=";

fn serving(db: &TestDatabase) -> Serving {
    let mut command = tally(db);
    command
        .env("TALLY_ADMIN_KEY", ADMIN.0)
        .env("TALLY_ADMIN_SECRET", ADMIN.1)
        .env("TALLY_SECRET_KEY", SECRET_KEY);
    Serving::start(command)
}

fn copy(from: &TestDatabase, to: &TestDatabase) -> Output {
    support::tally().args(["copy", "--from", &place(from), "--to", &place(to)]).output().expect("tally runs")
}

/// The lines of a copy's check: table, rows on each side, digest, verdict.
fn verification(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.ends_with(" same") || l.ends_with(" DIFFERENT")).map(str::to_string).collect()
}

/// A document, an attachment, a voided statement, a second store with its own credential,
/// a helpdesk connector, and the demo's statements, tickets and goal.
fn fill(db: &TestDatabase) -> (String, String) {
    let serving = serving(db);
    let loaded = stdout_of(support::tally().args([
        "demo",
        "--url",
        &serving.base_url,
        "--key",
        ADMIN.0,
        "--secret",
        ADMIN.1,
    ]));
    assert!(loaded.contains("report"), "{loaded}");
    let state = "/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fcourse&agent=%7B%22mbox%22%3A%22mailto%3Aann%40example.com%22%7D&stateId=bookmark";
    let (status, body) = serving.call("PUT", state, ADMIN, r#"{"page": 7}"#);
    assert_eq!(status, 204, "{body}");
    let statement = json!({
        "actor": { "mbox": "mailto:ann@example.com" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
        "object": { "id": "http://example.com/course" },
    });
    let attached = serving.post_with_attachment(ADMIN, statement, "certificate bytes");
    let voiding = json!({ "actor": { "mbox": "mailto:ops@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
                          "object": { "objectType": "StatementRef", "id": attached } });
    let (status, body) = serving.request("POST", ADMIN.0, ADMIN.1, &voiding.to_string());
    assert_eq!(status, 200, "{body}");
    let (status, body) = serving.call("POST", "/admin/stores", ADMIN, r#"{"name": "partners"}"#);
    assert_eq!(status, 201, "{body}");
    let store: Value = serde_json::from_str(&body).unwrap();
    let made = json!({ "store": store["id"], "scopes": ["all"], "name": "partner lms" }).to_string();
    let (status, body) = serving.call("POST", "/admin/credentials", ADMIN, &made);
    assert_eq!(status, 201, "{body}");
    let partner: Value = serde_json::from_str(&body).unwrap();
    let (key, secret) =
        (partner["key"].as_str().unwrap().to_string(), partner["secret"].as_str().unwrap().to_string());
    let (status, body) = serving.request("POST", &key, &secret, &json!({ "actor": { "mbox": "mailto:pat@example.com" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" }, "object": { "id": "http://example.com/partner" } }).to_string());
    assert_eq!(status, 200, "{body}");
    let connector = json!({ "kind": "servicenow", "base_url": "https://acme.service-now.com", "every": "1h",
                            "credentials": { "username": "svc", "password": "copied-sealed" } });
    let (status, body) = serving.call("POST", "/admin/stores/1/connectors", ADMIN, &connector.to_string());
    assert_eq!(status, 201, "{body}");
    serving.report_when_caught_up(ADMIN);
    (key, secret)
}

/// What a server on a Tally answers, for comparing two of them.
fn answers(db: &TestDatabase, partner: (&str, &str)) -> Vec<Value> {
    let serving = serving(db);
    let state = "/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fcourse&agent=%7B%22mbox%22%3A%22mailto%3Aann%40example.com%22%7D&stateId=bookmark";
    let document = serving.send("GET", state, ADMIN, "application/json", "");
    let voided = serving
        .statements(ADMIN)
        .iter()
        .rev()
        .find(|s| s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided")
        .cloned()
        .unwrap();
    let target = voided["object"]["id"].as_str().unwrap().to_string();
    let attachment = serving.send(
        "GET",
        &format!("/xapi/statements?voidedStatementId={target}&attachments=true"),
        ADMIN,
        "application/json",
        "",
    );
    let (_, tickets) = serving.call("GET", "/exports/tickets.csv", ADMIN, "");
    let (_, connectors) = serving.call("GET", "/admin/stores/1/connectors", ADMIN, "");
    vec![
        json!(connectors),
        json!(serving.statements(ADMIN)),
        json!(serving.statements(partner)),
        json!([document.status, document.body, document.header("etag")]),
        json!([attachment.status, attachment.body.contains("certificate bytes"), attachment.body.len()]),
        json!(tickets),
        serving.report_when_caught_up(ADMIN),
    ]
}

backend_tests! {
    fn a_copy_to_the_other_backend_answers_every_request_as_its_source_does(backend) {
        let source = TestDatabase::new(backend);
        let target = TestDatabase::new(other(backend));
        let (key, secret) = fill(&source);
        let copied = copy(&source, &target);
        let stdout = String::from_utf8_lossy(&copied.stdout).to_string();
        assert!(copied.status.success(), "{stdout}{}", String::from_utf8_lossy(&copied.stderr));
        assert!(stdout.contains("copying into an empty target") && stdout.contains("verified"), "{stdout}");
        let checked = verification(&stdout);
        assert_eq!(checked.len(), 22, "every table is compared, the rollups too: {stdout}");
        assert!(checked.iter().all(|l| l.ends_with(" same")), "{stdout}");
        // The store and credential made through the admin API were audited, and copied.
        let audited = checked.iter().find(|l| l.starts_with("audit_log ")).expect("the audit log is compared");
        let rows: Vec<&str> = audited.split_whitespace().skip(1).take(2).collect();
        assert!(rows[0] == rows[1] && rows[0].parse::<u64>().unwrap() >= 2, "{audited}");
        let (before, after) = (answers(&source, (&key, &secret)), answers(&target, (&key, &secret)));
        for (what, (a, b)) in ["the connectors", "statements", "the other store's statements", "the document and its ETag", "the attachment", "the tickets", "the report"].iter().zip(before.iter().zip(&after)) {
            assert_eq!(a, b, "{what} differ");
        }
        // A store made on the copy takes a new id.
        let serving = serving(&target);
        let (status, body) = serving.call("POST", "/admin/stores", ADMIN, r#"{"name": "new"}"#);
        assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["id"].clone()), (201, json!(3)), "{body}");
    }

    fn a_copy_killed_midway_finishes_when_run_again_with_the_end_of_an_uninterrupted_one(backend) {
        let source = TestDatabase::new(backend);
        let file = source.scratch("statements.ndjson");
        let lines: Vec<String> = (0..20_000).map(|i| json!({
            "actor": { "mbox": format!("mailto:learner{}@example.com", i % 700) },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
            "object": { "id": format!("http://example.com/course/{}", i % 40) },
            "timestamp": "2025-03-01T10:00:00Z",
        }).to_string()).collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        stdout_of(tally(&source).args(["import", "statements", file.to_str().unwrap()]));
        drop(serving(&source)); // lets the engine build the source's rollups
        let target = TestDatabase::new(other(backend));
        let mut child = support::tally()
            .args(["copy", "--from", &place(&source), "--to", &place(&target)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Killed while it copies the statements' index, after their bodies.
        while !line.starts_with("copied statements:") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the copy ended before the statements");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let resumed = copy(&source, &target);
        let resumed_out = String::from_utf8_lossy(&resumed.stdout).to_string();
        assert!(resumed.status.success(), "{resumed_out}{}", String::from_utf8_lossy(&resumed.stderr));
        assert!(resumed_out.contains("resuming a copy from this source"), "{resumed_out}");
        let index_rows: u64 = field(&resumed_out, "copied statement_index").trim_end_matches(" rows").parse().unwrap();
        assert!(index_rows > 0, "the killed copy left part of the index to copy: {resumed_out}");
        assert_eq!(field(&resumed_out, "copied statements"), "0 rows", "what was copied is not copied again: {resumed_out}");
        let whole = TestDatabase::new(other(backend));
        let uninterrupted = copy(&source, &whole);
        assert!(uninterrupted.status.success());
        assert_eq!(verification(&resumed_out), verification(&String::from_utf8_lossy(&uninterrupted.stdout)), "the same rows and digests");
        assert!(resumed_out.contains(&format!("{:<24} {:>12} {:>12}", "statements", 20_000, 20_000)), "{resumed_out}");
    }

    fn a_copy_that_finds_the_sides_differ_fails_and_names_the_table(backend) {
        let (source, target) = (TestDatabase::new(backend), TestDatabase::new(other(backend)));
        let state = "/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fc&agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.com%22%7D&stateId=s";
        let put = |body: &str| {
            let serving = serving(&source);
            let (status, answer) = serving.call("PUT", state, ADMIN, body);
            assert_eq!(status, 204, "{answer}");
        };
        put(r#"{"page": 1}"#);
        assert!(copy(&source, &target).status.success());
        // The source changes a row the target already holds: a re-run leaves held rows
        // alone, and the check finds the difference.
        put(r#"{"page": 2}"#);
        let checked = copy(&source, &target);
        let stdout = String::from_utf8_lossy(&checked.stdout).to_string();
        assert!(!checked.status.success(), "{stdout}");
        assert!(verification(&stdout).iter().any(|l| l.starts_with("documents ") && l.ends_with("DIFFERENT")), "{stdout}");
        assert!(String::from_utf8_lossy(&checked.stderr).contains("the copy differs from its source in documents"));
    }

    fn a_copy_refuses_a_target_that_holds_other_data_and_writes_nothing(backend) {
        let source = TestDatabase::new(backend);
        stdout_of(tally(&source).args(["stores", "create", "one"]));
        let target = TestDatabase::new(other(backend));
        let store = field(&stdout_of(tally(&target).args(["stores", "create", "theirs"])), "id");
        let refused = copy(&source, &target);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("the target holds data that is not from this source"));
        let listed = stdout_of(tally(&target).args(["stores", "list"]));
        assert!(listed.contains(&format!("{store}\ttheirs")) && !listed.contains("\tone\t"), "{listed}");
        let same = support::tally().args(["copy", "--from", &place(&source), "--to", &place(&source)]).output().unwrap();
        assert!(!same.status.success() && String::from_utf8_lossy(&same.stderr).contains("the same place"));
    }
}
