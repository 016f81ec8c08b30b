//! Statement forwarding between real Tally processes: every committed statement a rule
//! matches arrives at the target in ingest order, through a forwarder killed with SIGKILL
//! and a target stopped for a while, with no duplicate; a statement the target refuses is
//! dead-lettered and delivery goes on; several processes on one PostgreSQL deliver each
//! statement through one of them.

mod support;

use std::net::TcpListener;
use std::sync::Arc;

use serde_json::{Value, json};
use support::{Serving, Watched, tally_on as tally};
use test_support::{Backend, TestDatabase, backend_tests};

const SOURCE: (&str, &str) = ("ops", "source-secret");
const TARGET: (&str, &str) = ("lrs", "target-secret");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `tally serve` with an admin credential, on a port of its own (`None`: any), forwarding
/// with a one-second lease.
fn serve(db: &TestDatabase, credential: (&str, &str), port: Option<u16>, extra: &[&str]) -> Serving {
    serve_logging_to(db, credential, port, extra, Watched::new())
}

/// The same, logging into `log`, with an event each time a rule moves (what [`until`]
/// waits for).
fn serve_logging_to(
    db: &TestDatabase,
    credential: (&str, &str),
    port: Option<u16>,
    extra: &[&str],
    log: Arc<Watched<String>>,
) -> Serving {
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", credential.0).env("TALLY_ADMIN_SECRET", credential.1);
    command.env("TALLY_LOG", "info,tally::forwarding=debug");
    let bind = format!("127.0.0.1:{}", port.unwrap_or(0));
    let mut args = vec!["serve", "--bind", bind.as_str(), "--no-insights", "--forward-lease-ms", "1000"];
    args.extend_from_slice(extra);
    Serving::start_logging_to(command, &args, "xAPI at ", log)
}

fn statement(i: usize, verb: &str) -> Value {
    json!({ "actor": { "mbox": format!("mailto:learner{i}@example.com") }, "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
            "object": { "id": format!("http://example.com/course/{}", i % 3) } })
}

fn post(serving: &Serving, credential: (&str, &str), statements: &Value) -> Vec<String> {
    let (status, body) = serving.request("POST", credential.0, credential.1, &statements.to_string());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The ids a server holds, in its ingest order.
fn ids(serving: &Serving, credential: (&str, &str)) -> Vec<String> {
    serving.statements(credential).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

fn scrape(port: u16) -> String {
    ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap()
}

/// The value of one series in a Prometheus scrape (-1 when absent).
fn metric(scraped: &str, series: &str) -> f64 {
    scraped.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(-1.0)
}

/// Waits until `done` holds: checks it, and again after each line a forwarding server logs
/// (it logs each move of a rule, and each failed delivery), failing the test when 30 s pass
/// without one.
fn until(what: &str, log: &Watched<String>, mut done: impl FnMut() -> bool) {
    loop {
        let seen = log.value.lock().unwrap().len();
        if done() {
            return;
        }
        drop(log.when(what, |logged| logged.len() > seen));
    }
}

fn add_rule(source: &Serving, target_url: &str, filter: Value) -> Value {
    let body = json!({ "url": target_url, "key": TARGET.0, "secret": TARGET.1, "filter": filter, "max_attempts": 20 });
    let (status, body) = source.call("POST", "/admin/stores/1/forwarding", SOURCE, &body.to_string());
    assert_eq!(status, 201, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn rule(source: &Serving, id: &Value) -> Value {
    let (status, body) = source.call("GET", &format!("/admin/stores/1/forwarding/{id}"), SOURCE, "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The secrets of the database's forwarding rules as stored, by rule id.
fn stored_secrets(db: &TestDatabase) -> Vec<String> {
    use store::forwarding::ForwardingStore;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rules = runtime.block_on(async {
        match db.backend() {
            Backend::Sqlite => {
                store::sqlite::SqliteStore::open_for_admin(db.data_dir())
                    .unwrap()
                    .forwarding_rules(None)
                    .await
            }
            Backend::Postgres => {
                let url = db.database_url().unwrap();
                store::postgres::PgStore::connect(url).await.unwrap().forwarding_rules(None).await
            }
        }
    });
    rules.unwrap().into_iter().map(|rule| rule.secret).collect()
}

backend_tests! {
    fn a_rules_secret_is_sealed_at_rest_and_without_the_key_delivery_waits_and_loses_nothing(backend) {
        let key = "A".repeat(43);
        let (source_db, target_db) = (TestDatabase::new(backend), TestDatabase::new(backend));
        let target = serve(&target_db, TARGET, None, &[]);
        let source = serve(&source_db, SOURCE, None, &["--secret-key", &key]);
        let made = add_rule(&source, &target.base_url, json!({}));
        let first = post(&source, SOURCE, &json!((0..3).map(|i| statement(i, "completed")).collect::<Vec<_>>()));
        until("the first statements arrive", &source.log, || ids(&target, TARGET).len() == 3);
        drop(source);
        let secrets = stored_secrets(&source_db);
        assert!(secrets[0].starts_with("sealed:") && !secrets[0].contains(TARGET.1), "{secrets:?}");

        // Without the key the rule cannot authenticate: it says so, and waits.
        let source = serve(&source_db, SOURCE, None, &[]);
        let later = post(&source, SOURCE, &json!((3..5).map(|i| statement(i, "completed")).collect::<Vec<_>>()));
        source.log_when("the rule is held", |log| log.contains("cannot authenticate to its target"));
        let held = rule(&source, &made["id"]);
        assert!(held["last_error"].as_str().unwrap_or_default().contains("TALLY_SECRET_KEY is not set"), "{held}");
        assert_eq!((held["dead_letters"].clone(), held["lag"].clone()), (json!(0), json!(2)), "{held}");
        drop(source);

        // With the key back, delivery goes on from where it was: nothing lost, nothing twice.
        let source = serve(&source_db, SOURCE, None, &["--secret-key", &key]);
        until("the later statements arrive", &source.log, || ids(&target, TARGET).len() == 5);
        assert_eq!(ids(&target, TARGET), [first, later].concat());
        until("the rule's error clears", &source.log, || rule(&source, &made["id"])["last_error"].is_null());
        drop(source);

        // The console seals with the same key; without one it keeps the secret as given.
        let add = |extra: &[&str]| {
            let mut args = vec!["forward", "add", "--url", "http://127.0.0.1:9/xapi", "--key", "k", "--secret", "console-secret"];
            args.extend_from_slice(extra);
            support::stdout_of(tally(&source_db).args(args))
        };
        add(&["--secret-key", &key]);
        add(&[]);
        let secrets = stored_secrets(&source_db);
        assert!(secrets[1].starts_with("sealed:") && !secrets[1].contains("console-secret"), "{secrets:?}");
        assert_eq!(secrets[2], "plain:console-secret");
    }

    fn rules_are_managed_from_the_command_line(backend) {
        let db = TestDatabase::new(backend);
        let run = |args: &[&str]| support::stdout_of(tally(&db).args(args));
        let added = run(&["forward", "add", "--url", "http://127.0.0.1:9/xapi", "--key", "k", "--secret", "hidden-secret", "--verb", "http://adlnet.gov/expapi/verbs/completed"]);
        let id = support::field(&added, "id");
        let listed = run(&["forward", "list"]);
        assert!(listed.starts_with(&format!("{id}\tstore 1\thttp://127.0.0.1:9/xapi\ton\tlag 0")) && !listed.contains("hidden-secret"), "{listed}");
        run(&["forward", "disable", "1", &id]);
        assert!(run(&["forward", "list", "--store", "1"]).contains("\toff\t"));
        run(&["forward", "remove", "1", &id]);
        assert!(run(&["forward", "list"]).is_empty());
        let refused = tally(&db).args(["forward", "add", "--url", "ftp://x", "--key", "k", "--secret", "s"]).output().unwrap();
        assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--url"));
    }

    fn every_committed_statement_a_rule_passes_arrives_in_ingest_order_and_the_secret_is_never_shown(backend) {
        let (source_db, target_db) = (TestDatabase::new(backend), TestDatabase::new(backend));
        let (source, target) = (serve(&source_db, SOURCE, None, &[]), serve(&target_db, TARGET, None, &[]));
        let completed = add_rule(&source, &target.base_url, json!({ "verbs": ["http://adlnet.gov/expapi/verbs/completed"] }));
        assert!(!completed.to_string().contains(TARGET.1), "the secret is not shown: {completed}");
        let sent: Vec<Value> = (0..30).map(|i| statement(i, if i % 3 == 0 { "completed" } else { "experienced" })).collect();
        let stored = post(&source, SOURCE, &json!(sent));
        let wanted: Vec<String> = stored.iter().enumerate().filter(|(i, _)| i % 3 == 0).map(|(_, id)| id.clone()).collect();
        until("the completed statements arrive", &source.log, || ids(&target, TARGET).len() == wanted.len());
        assert_eq!(ids(&target, TARGET), wanted, "only what the rule passes, in ingest order");
        until("the rule shows no lag", &source.log, || rule(&source, &completed["id"])["lag"] == json!(0));
        let listed = source.call("GET", "/admin/stores/1/forwarding", SOURCE, "");
        assert!(listed.1.contains("\"delivered_through\":30") && !listed.1.contains(TARGET.1), "{}", listed.1);
        let (status, body) = source.call("POST", "/admin/stores/1/forwarding", SOURCE, r#"{"url":"ftp://x","key":"k","secret":"s"}"#);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("\"url\""), "{body}");
        let (status, _) = source.call("DELETE", &format!("/admin/stores/1/forwarding/{}", completed["id"]), SOURCE, "");
        assert_eq!(status, 204);
        assert_eq!(source.call("GET", &format!("/admin/stores/1/forwarding/{}", completed["id"]), SOURCE, "").0, 404);
    }

    fn a_forwarder_killed_midway_and_a_target_stopped_for_a_while_deliver_everything_once_in_order(backend) {
        let (source_db, target_db) = (TestDatabase::new(backend), TestDatabase::new(backend));
        let target_port = free_port();
        let mut target = Some(serve(&target_db, TARGET, Some(target_port), &[]));
        let target_url = format!("http://127.0.0.1:{target_port}/xapi");
        // Both of the source's processes log into one log, which the waits follow.
        let events = Watched::new();
        let mut source = serve_logging_to(&source_db, SOURCE, None, &[], events.clone());
        let forwarding = add_rule(&source, &target_url, json!({}));
        let mut stored = Vec::new();
        for round in 0..6 {
            let batch: Vec<Value> = (0..50).map(|i| statement(round * 50 + i, "experienced")).collect();
            stored.extend(post(&source, SOURCE, &json!(batch)));
            match round {
                1 => {
                    // SIGKILL mid-stream, and a new process on the same database.
                    drop(source);
                    source = serve_logging_to(&source_db, SOURCE, None, &[], events.clone());
                }
                3 => {
                    drop(target.take());
                    until("the rule reports the target's absence", &events, || rule(&source, &forwarding["id"])["last_error"].is_string());
                }
                4 => target = Some(serve(&target_db, TARGET, Some(target_port), &[])),
                _ => {}
            }
        }
        let target = target.unwrap();
        until("every statement arrives", &events, || ids(&target, TARGET).len() >= stored.len());
        assert_eq!(ids(&target, TARGET), stored, "each statement once, in ingest order");
        until("the rule's error clears", &events, || rule(&source, &forwarding["id"])["last_error"].is_null());
        assert_eq!(rule(&source, &forwarding["id"])["dead_letters"], json!(0));
    }

    fn attachment_content_travels_with_its_statement(backend) {
        let (source_db, target_db) = (TestDatabase::new(backend), TestDatabase::new(backend));
        let (source, target) = (serve(&source_db, SOURCE, None, &[]), serve(&target_db, TARGET, None, &[]));
        let id = source.post_with_attachment(SOURCE, statement(1, "completed"), "certificate bytes");
        add_rule(&source, &target.base_url, json!({}));
        until("the statement arrives", &source.log, || ids(&target, TARGET) == vec![id.clone()]);
        let reply = target.send("GET", &format!("/xapi/statements?statementId={id}&attachments=true"), TARGET, "application/json", "");
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains("certificate bytes"), "the content was delivered: {}", reply.body);
    }

    fn a_statement_the_target_refuses_is_dead_lettered_and_delivery_goes_on(backend) {
        let (source_db, target_db) = (TestDatabase::new(backend), TestDatabase::new(backend));
        let metrics = free_port();
        let metrics_bind = format!("127.0.0.1:{metrics}");
        let source = serve(&source_db, SOURCE, None, &["--metrics-bind", &metrics_bind]);
        let target = serve(&target_db, TARGET, None, &[]);
        let clash = uuid::Uuid::new_v4().to_string();
        let mut theirs = statement(0, "experienced");
        theirs["id"] = json!(clash);
        post(&target, TARGET, &json!([theirs]));
        let mut ours = statement(1, "completed");
        ours["id"] = json!(clash);
        let stored = post(&source, SOURCE, &json!([statement(2, "experienced"), ours, statement(3, "experienced")]));
        let forwarding = add_rule(&source, &target.base_url, json!({}));
        until("the rule moves past every statement", &source.log, || rule(&source, &forwarding["id"])["lag"] == json!(0));
        assert_eq!(ids(&target, TARGET), vec![clash.clone(), stored[0].clone(), stored[2].clone()]);
        let (status, body) = source.call("GET", &format!("/admin/stores/1/forwarding/{}/dead-letters", forwarding["id"]), SOURCE, "");
        assert_eq!(status, 200, "{body}");
        let letters: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(letters.as_array().unwrap().len(), 1, "{letters}");
        assert_eq!(letters[0]["statement"], json!(clash));
        assert!(letters[0]["error"].as_str().unwrap().contains("409"), "{letters}");
        assert_eq!(rule(&source, &forwarding["id"])["dead_letters"], json!(1));
        let labels = format!("{{store=\"1\",rule=\"{}\"}}", forwarding["id"]);
        until("the metrics show the failure and no lag", &source.log, || {
            let scraped = scrape(metrics);
            metric(&scraped, &format!("tally_forward_failures_total{labels}")) >= 1.0
                && metric(&scraped, &format!("tally_forward_lag_statements{labels}")) == 0.0
        });
    }
}

/// Two processes serving one PostgreSQL database forward each statement through one of
/// them: their delivered counters add up to the statements, once each.
#[test]
fn processes_sharing_a_postgresql_database_deliver_each_statement_through_one_of_them() {
    let (source_db, target_db) = (TestDatabase::new(Backend::Postgres), TestDatabase::new(Backend::Postgres));
    let target = serve(&target_db, TARGET, None, &[]);
    let metrics: Vec<u16> = vec![free_port(), free_port()];
    let binds: Vec<String> = metrics.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let events = Watched::new();
    let one = serve_logging_to(&source_db, SOURCE, None, &["--metrics-bind", &binds[0]], events.clone());
    let two = serve_logging_to(&source_db, SOURCE, None, &["--metrics-bind", &binds[1]], events.clone());
    add_rule(&one, &target.base_url, json!({}));
    let mut stored = Vec::new();
    for round in 0..4 {
        let batch: Vec<Value> = (0..25).map(|i| statement(round * 25 + i, "experienced")).collect();
        let via = if round % 2 == 0 { &one } else { &two };
        stored.extend(post(via, SOURCE, &json!(batch)));
    }
    until("every statement arrives", &events, || ids(&target, TARGET).len() >= stored.len());
    assert_eq!(ids(&target, TARGET).len(), stored.len());
    let delivered = |port: u16| -> u64 {
        let body = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        body.lines()
            .filter(|l| l.starts_with("tally_forward_delivered_total"))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .map(|v| v as u64)
            .sum()
    };
    assert_eq!(
        delivered(metrics[0]) + delivered(metrics[1]),
        stored.len() as u64,
        "each statement through one process, once"
    );
}
