//! The `tally` binary, run as a user would: serve, migrate and credentials, on both stores.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use support::{Serving, field, stdout_of, tally_on as tally};
use test_support::{Backend, TestDatabase, backend_tests};

backend_tests! {
    fn created_credentials_authenticate_until_revoked(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["credentials", "create", "--name", "LMS", "--scopes", "statements/write,statements/read"]));
        let (key, secret) = (field(&created, "key"), field(&created, "secret"));
        assert!(secret.len() >= 22, "at least 128 bits");
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert!(listed.contains(&key) && listed.contains("LMS") && !listed.contains(&secret), "{listed}");
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        assert_eq!(serving.status_with(&key, "wrong"), 401);
        stdout_of(tally(&db).args(["credentials", "revoke", &key]));
        assert_eq!(serving.status_with(&key, &secret), 401, "revocation takes effect on the next request");
    }

    fn a_credential_can_do_only_what_its_scopes_allow(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "statements/read"]));
        let (reader, reader_secret) = (field(&created, "key"), field(&created, "secret"));
        let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "statements/write"]));
        let (writer, writer_secret) = (field(&created, "key"), field(&created, "secret"));
        let serving = Serving::start(tally(&db));
        let statement = test_support::statements::statement().to_string();
        let (status, body) = serving.request("POST", &reader, &reader_secret, &statement);
        assert_eq!(status, 403);
        assert!(body.contains("statements/write"), "{body}");
        assert_eq!(serving.request("POST", &writer, &writer_secret, &statement).0, 200);
        assert_eq!(serving.status_with(&reader, &reader_secret), 200);
        assert_eq!(serving.status_with(&writer, &writer_secret), 403);
    }

    fn serve_prints_a_first_credential_only_for_an_empty_store(backend) {
        let db = TestDatabase::new(backend);
        let mut first = tally(&db);
        first.args(["serve", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = first.spawn().expect("serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        for _ in 0..3 {
            out.read_line(&mut printed).unwrap();
        }
        let _ = child.kill();
        let _ = child.wait();
        let (key, secret) = (field(&printed, "key"), field(&printed, "secret"));
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert_eq!(listed.lines().count(), 1, "no second credential: {listed}");
    }

    fn the_start_says_where_the_web_pages_are_and_how_to_load_the_demo(backend) {
        let db = TestDatabase::new(backend);
        let serving = Serving::start(tally(&db));
        let log = serving.log.value.lock().unwrap().clone();
        let line = log.lines().find(|l| l.contains("xAPI at ")).expect("the listening line");
        let base = serving.base_url.trim_end_matches("/xapi");
        assert!(line.contains(&format!("web pages at {base}/ui")), "{line}");
        assert!(line.contains(&format!("tally demo --url {base} --key KEY --secret SECRET")), "{line}");
        let page = serving.send("GET", "/ui", ("nobody", "nothing"), "text/plain", "");
        assert_eq!(page.status, 200, "the web pages answer there: {}", page.body);
    }

    fn the_admin_credential_comes_from_the_environment(backend) {
        let db = TestDatabase::new(backend);
        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", "ops").env("TALLY_ADMIN_SECRET", "a-long-operator-secret");
        let serving = Serving::start(command);
        assert_eq!(serving.status_with("ops", "a-long-operator-secret"), 200);
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert!(listed.starts_with("ops\t") && listed.lines().count() == 1, "{listed}");
    }

    fn stores_are_managed_from_the_command_line(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["stores", "create", "Partner academy"]));
        let id = field(&created, "id");
        stdout_of(tally(&db).args(["stores", "rename", &id, "Partners"]));
        let listed = stdout_of(tally(&db).args(["stores", "list"]));
        assert!(listed.lines().any(|l| l.starts_with(&format!("{id}\tPartners\tactive"))), "{listed}");
        let made = stdout_of(tally(&db).args(["credentials", "create", "--store", &id, "--scopes", "statements/read"]));
        let (key, secret) = (field(&made, "key"), field(&made, "secret"));
        let listed = stdout_of(tally(&db).args(["credentials", "list", "--store", &id]));
        assert_eq!(listed.lines().count(), 1, "{listed}");
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        stdout_of(tally(&db).args(["stores", "revoke", &id]));
        assert_eq!(serving.status_with(&key, &secret), 401);
        let refused = tally(&db).args(["stores", "revoke", "1"]).output().unwrap();
        assert!(!refused.status.success(), "the default store cannot be revoked");
    }

    fn migrate_brings_an_empty_database_up_to_date(backend) {
        let db = TestDatabase::new(backend);
        assert!(stdout_of(tally(&db).arg("migrate")).contains("up to date"));
        assert!(stdout_of(tally(&db).arg("migrate")).contains("up to date"), "idempotent");
    }
}

#[test]
fn secrets_never_appear_in_the_log() {
    let db = TestDatabase::new(Backend::Sqlite);
    let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "all"]));
    let (key, secret) = (field(&created, "key"), field(&created, "secret"));
    let admin_secret = "operator-secret-that-must-not-leak";
    let mut command = tally(&db);
    command.env("TALLY_ADMIN_KEY", "ops").env("TALLY_ADMIN_SECRET", admin_secret).env("TALLY_LOG", "trace");
    let serving = Serving::start(command);
    assert_eq!(serving.status_with(&key, &secret), 200);
    assert_eq!(serving.status_with(&key, "a-wrong-guess-that-must-not-leak"), 401);
    assert_eq!(serving.status_with("ops", admin_secret), 200);
    let statement = test_support::statements::statement().to_string();
    assert_eq!(serving.request("POST", &key, &secret, &statement).0, 200);
    // Every request's access line (401 included) is in the log before it is read.
    let log = serving.log_when("four access lines", |log| log.matches("tally::access").count() >= 4);
    assert!(log.len() > 1_000, "trace logging was on: {} bytes", log.len());
    for leaked in [secret.as_str(), admin_secret, "a-wrong-guess-that-must-not-leak"] {
        assert!(!log.contains(leaked), "the log holds a secret");
    }
}

#[test]
fn an_unsupported_database_url_is_refused_with_advice() {
    let db = TestDatabase::new(Backend::Sqlite);
    let output = tally(&db).args(["--database-url", "mysql://x", "migrate"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("postgres://"));
}

/// A small Zendesk export: two good rows and one whose creation date is not a date.
const ZENDESK_CSV: &str = "Id,Created at,Solved at,Status,Tags,Requester email,Ticket type,Priority,Via,Subject,Group\n\
4101,2024-03-04 08:15:02,2024-03-04 11:40:19,Solved,install connector,maria@acme.example,Incident,Normal,Web form,Installer stops,Install\n\
4102,2024-03-04 09:02:47,,Open,install,tom@northwind.example,Question,Low,Mail,\"Where is the key, please?\",Install\n\
4103,yesterday,,Open,install,ann@acme.example,Question,Low,Mail,Bad date,Install\n";

backend_tests! {
    fn tickets_import_reports_counts_and_rejected_rows_and_reimports_in_place(backend) {
        let db = TestDatabase::new(backend);
        let file = db.scratch("zendesk.csv");
        std::fs::write(&file, ZENDESK_CSV).unwrap();
        let path = file.to_str().unwrap();
        let first = stdout_of(tally(&db).args(["tickets", "import", path, "--preset", "zendesk"]));
        assert_eq!((field(&first, "inserted"), field(&first, "updated"), field(&first, "rejected")), ("2".into(), "0".into(), "1".into()), "{first}");
        assert!(first.contains("row 4") && first.contains("Created at"), "the bad row is named with its column: {first}");
        let again = stdout_of(tally(&db).args(["tickets", "import", path, "--preset", "zendesk"]));
        assert_eq!((field(&again, "inserted"), field(&again, "updated")), ("0".into(), "2".into()), "{again}");
        let exported = db.scratch("tickets.csv");
        stdout_of(tally(&db).args(["export", "tickets", "--out", exported.to_str().unwrap()]));
        let csv = std::fs::read_to_string(&exported).unwrap();
        assert_eq!(csv.lines().count(), 3, "a header and one row per ticket: {csv}");
        assert!(csv.starts_with("source,external_id,created"), "{csv}");
        assert!(csv.contains("\"Where is the key, please?\""), "RFC 4180 quoting: {csv}");
    }

    fn a_strict_import_with_a_bad_row_stores_nothing(backend) {
        let db = TestDatabase::new(backend);
        let file = db.scratch("zendesk.csv");
        std::fs::write(&file, ZENDESK_CSV).unwrap();
        let output = tally(&db).args(["tickets", "import", file.to_str().unwrap(), "--preset", "zendesk", "--strict"]).output().unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("nothing was stored"));
        let exported = db.scratch("tickets.csv");
        stdout_of(tally(&db).args(["export", "tickets", "--out", exported.to_str().unwrap()]));
        assert_eq!(std::fs::read_to_string(&exported).unwrap().lines().count(), 1, "only the header");
    }

    fn statements_exported_as_ndjson_import_into_another_store_once_and_bad_lines_are_named(backend) {
        let db = TestDatabase::new(backend);
        let admin = ("ops", "bulk-secret");
        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", admin.0).env("TALLY_ADMIN_SECRET", admin.1);
        let serving = Serving::start(command);
        let statement = |mbox: &str| format!(
            r#"{{"actor":{{"mbox":"mailto:{mbox}"}},"verb":{{"id":"http://adlnet.gov/expapi/verbs/experienced"}},"object":{{"id":"http://example.com/course"}}}}"#
        );
        let (status, ids) = serving.request("POST", admin.0, admin.1, &format!("[{},{},{}]", statement("a@example.com"), statement("b@example.com"), statement("c@example.com")));
        assert_eq!(status, 200, "{ids}");
        drop(serving);

        let file = db.scratch("statements.ndjson");
        let path = file.to_str().unwrap();
        stdout_of(tally(&db).args(["export", "statements", "--format", "ndjson", "--out", path]));
        let exported = std::fs::read_to_string(&file).unwrap();
        let exported_ids: Vec<String> = exported.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(exported_ids, serde_json::from_str::<Vec<String>>(&ids).unwrap(), "every statement, oldest first");

        let store = field(&stdout_of(tally(&db).args(["stores", "create", "copy"])), "id");
        let first = stdout_of(tally(&db).args(["import", "statements", path, "--store", &store]));
        assert_eq!((field(&first, "lines"), field(&first, "accepted"), field(&first, "rejected")), ("3".into(), "3".into(), "0".into()), "{first}");
        stdout_of(tally(&db).args(["import", "statements", path, "--store", &store]));
        let copy = db.scratch("copy.ndjson");
        stdout_of(tally(&db).args(["export", "statements", "--format", "ndjson", "--store", &store, "--out", copy.to_str().unwrap()]));
        let copied = std::fs::read_to_string(&copy).unwrap();
        let copied_ids: Vec<String> = copied.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(copied_ids, exported_ids, "each statement once, however often the import runs");

        std::fs::write(&file, format!("{}\nnot json\n{{\"verb\":{{}}}}\n", statement("d@example.com"))).unwrap();
        let mixed = stdout_of(tally(&db).args(["import", "statements", path, "--store", &store]));
        assert_eq!((field(&mixed, "accepted"), field(&mixed, "rejected")), ("1".into(), "2".into()), "{mixed}");
        assert!(mixed.contains("line 2: not valid JSON") && mixed.contains("line 3: "), "{mixed}");
        let refused = tally(&db).args(["import", "statements", path, "--store", "99"]).output().unwrap();
        assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("no store 99"));
    }

    fn the_demo_loads_a_report_that_insights_serve_also_answers(backend) {
        let db = TestDatabase::new(backend);
        let admin = ("ops", "demo-secret");
        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", admin.0).env("TALLY_ADMIN_SECRET", admin.1);
        let serving = Serving::start(command);
        let loaded = stdout_of(tally(&db).args(["demo", "--url", &serving.base_url, "--key", admin.0, "--secret", admin.1, "--scenario", "low-reach"]));
        assert!(loaded.contains("/insights/goals/install-tickets/report"), "{loaded}");
        let report = serving.report_when_caught_up(admin);
        assert_eq!(report["diagnosis"]["code"], "low_reach", "{report}");
        drop(serving);

        // The same report from the insights engine running on its own.
        let insights = Serving::start_as(tally(&db), &["insights", "serve", "--bind", "127.0.0.1:0"], "listening: ");
        let (status, _) = insights.call("GET", "/xapi/statements", admin, "");
        assert_eq!(status, 404, "no xAPI here");
        assert_eq!(insights.report_when_caught_up(admin)["diagnosis"]["code"], "low_reach");
    }
}

#[test]
fn insights_serve_takes_the_same_http_settings_as_serve() {
    let db = TestDatabase::new(Backend::Sqlite);
    let args = [
        "insights",
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--auth-failures-per-minute",
        "1",
        "--metrics-bind",
        "off",
    ];
    let insights = Serving::start_as(tally(&db), &args, "listening: ");
    assert_eq!(insights.call("GET", "/insights/status", ("nobody", "wrong"), "").0, 401);
    assert_eq!(
        insights.call("GET", "/insights/status", ("nobody", "wrong"), "").0,
        429,
        "the brake's setting holds"
    );
}
