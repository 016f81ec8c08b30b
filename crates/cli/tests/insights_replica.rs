//! `tally insights serve` on a PostgreSQL streaming replica (a hot standby of a throwaway
//! cluster): it runs read-only, answers what the primary's insights answer, refuses
//! ticket imports and goal edits, and refuses a replica whose schema is behind.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Serving, stdout_of};
use test_support::cluster::PgCluster;
use test_support::{Backend, TestDatabase};

const ADMIN: (&str, &str) = ("ops", "a-secret-for-the-replica-tests");

const REFUSAL: &str =
    "this insights server reads a read-only replica: import tickets and edit goals on the primary";

/// How long a standby may take to replay what its primary wrote.
const REPLAY: Duration = Duration::from_secs(30);

/// `tally` against `url`.
fn tally_on(url: &str) -> Command {
    let mut command = support::tally();
    command.args(["--database-url", url]);
    command
}

/// `tally insights serve` against `url`.
fn insights_on(url: &str, extra: &[&str]) -> Serving {
    let mut args = vec!["insights", "serve", "--bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Serving::start_as(tally_on(url), &args, "listening: ")
}

fn get(serving: &Serving, path: &str) -> (u16, String) {
    serving.call("GET", path, ADMIN, "")
}

const GOAL: &str = "/insights/goals/install-tickets";
const REPORT: &str = "/insights/goals/install-tickets/report";
const TICKETS_CSV: &str = "/exports/tickets.csv";
const GOAL_CSV: &str = "/exports/goals/install-tickets.csv";

/// Every read a BI tool or analyst makes, with its answer (status and body).
fn reads(serving: &Serving) -> BTreeMap<&'static str, (u16, String)> {
    [
        "/insights/goals",
        GOAL,
        "/insights/goals/install-tickets/changes",
        REPORT,
        "/insights/goals/install-tickets/report?interval=day&as_of=2025-04-01",
        "/insights/tickets/summary?group_by=tag&interval=week",
        "/insights/activities?activity_id_prefix=https://academy.example.com/install/&from=2025-01-01&to=2025-06-30",
        "/insights/videos?activityId=https://academy.example.com/install/videos/01-install-the-sync-connector",
        "/exports/statements.csv",
        TICKETS_CSV,
        "/exports/activity-daily.csv",
        GOAL_CSV,
    ]
    .into_iter()
    .map(|path| (path, get(serving, path)))
    .collect()
}

/// Two sets of reads answer 200 and the same, path by path (naming the first line that
/// differs, not the whole export).
fn assert_same(left: &BTreeMap<&str, (u16, String)>, right: &BTreeMap<&str, (u16, String)>, what: &str) {
    assert_eq!(left.keys().collect::<Vec<_>>(), right.keys().collect::<Vec<_>>());
    for ((path, (status, body)), (other_status, other)) in left.iter().zip(right.values()) {
        assert_eq!((*status, *other_status), (200, 200), "{path}: {body} / {other}");
        if let Some((line, (a, b))) = body.lines().zip(other.lines()).enumerate().find(|(_, (a, b))| a != b) {
            panic!("{what} differ at {path}, line {}:\n{a}\n{b}", line + 1);
        }
        assert_eq!(body.len(), other.len(), "{what}: {path}");
    }
}

fn status_of(serving: &Serving) -> Value {
    let (status, body) = get(serving, "/insights/status");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A write on a read-only server is answered 405, naming why, with the methods left.
fn assert_refused(serving: &Serving, method: &str, path: &str, content_type: &str, body: &str, allow: &str) {
    let reply = serving.send(method, path, ADMIN, content_type, body);
    assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
    assert_eq!(reply.json()["error"]["message"], REFUSAL, "{method} {path}");
    assert_eq!(reply.header("Allow"), Some(allow), "{method} {path}");
}

#[test]
fn insights_serve_on_a_replica_answers_as_the_primary_and_refuses_writes() {
    let primary = PgCluster::start();
    primary.create_database("tally");
    let standby = primary.start_standby();
    let (primary_url, replica_url) = (primary.url("tally"), standby.url("tally"));

    // The LRS with its rollup engine on the primary, loaded with the demo.
    let mut serve = tally_on(&primary_url);
    serve.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1).env("TALLY_METRICS_BIND", "off");
    let lrs = Serving::start(serve);
    let demo = ["demo", "--url", &lrs.base_url, "--key", ADMIN.0, "--secret", ADMIN.1];
    stdout_of(support::tally().args(demo));
    let primary_report = lrs.report_when_caught_up(ADMIN);
    assert_eq!(primary_report["diagnosis"]["code"], "working", "{primary_report}");
    primary.wait_for_replay(&standby, REPLAY);

    let replica = insights_on(&replica_url, &[]);
    let (status, primary_status) = (status_of(&replica), status_of(&lrs));
    assert_eq!(status["rollups"], primary_status["rollups"], "the lag, as replicated");
    assert_eq!(status["rollups"]["statements_behind"], 0, "{status}");
    assert_eq!(
        (&status["read_only"], &primary_status["read_only"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
    assert_eq!(get(&replica, "/ready").0, 200, "the replica holds every migration");

    // Every read answers exactly what the primary answers.
    let (replica_reads, primary_reads) = (reads(&replica), reads(&lrs));
    assert_same(&replica_reads, &primary_reads, "the replica and the primary");
    assert_eq!(serde_json::from_str::<Value>(&replica_reads[REPORT].1).unwrap(), primary_report);
    assert!(replica_reads[TICKETS_CSV].1.lines().count() > 100, "{}", replica_reads[TICKETS_CSV].1);

    // Writes are refused with the reason, after the same authentication as on the primary,
    // and nothing changes.
    let goal = &primary_reads[GOAL].1;
    assert_refused(&replica, "PUT", GOAL, "application/json", goal, "GET");
    assert_refused(&replica, "PUT", "/insights/goals/a-new-goal", "application/json", goal, "GET");
    assert_refused(&replica, "DELETE", GOAL, "application/json", "", "GET");
    let change = r#"{"at": "2025-03-20", "kind": "placement", "note": "moved to the installer"}"#;
    let changes = "/insights/goals/install-tickets/changes";
    assert_refused(&replica, "POST", changes, "application/json", change, "GET");
    assert_refused(&replica, "DELETE", &format!("{changes}/some-change"), "application/json", "", "");
    let tickets = "source,external_id,created,tags\nzendesk,9001,2025-03-21T10:00:00Z,install\n";
    assert_refused(&replica, "POST", "/insights/tickets?preset=generic", "text/csv", tickets, "");
    let stranger = replica.send("PUT", GOAL, (ADMIN.0, "a-wrong-secret"), "application/json", goal);
    assert_eq!(stranger.status, 401, "{}", stranger.body);
    primary.wait_for_replay(&standby, REPLAY);
    assert_same(&reads(&replica), &replica_reads, "the replica before and after the refusals");
    assert_same(&reads(&lrs), &primary_reads, "the primary before and after the refusals");

    // The rollups keep following the primary's, by replication: no engine runs here.
    let statement = test_support::statements::statement().to_string();
    assert_eq!(lrs.request("POST", ADMIN.0, ADMIN.1, &statement).0, 200);
    lrs.report_when_caught_up(ADMIN);
    primary.wait_for_replay(&standby, REPLAY);
    let (status, primary_status_now) = (status_of(&replica), status_of(&lrs));
    assert_eq!(status["rollups"], primary_status_now["rollups"]);
    assert!(status["rollups"]["head"].as_i64() > primary_status["rollups"]["head"].as_i64(), "{status}");
    let log = replica.log.value.lock().unwrap().clone();
    assert!(log.contains("no rollup engine here"), "{log}");
    assert!(!log.contains("insights engine step failed"), "{log}");

    // `tally export` reads the replica too; `tally serve` and `tally migrate` belong on the
    // primary.
    let exported = stdout_of(tally_on(&replica_url).args(["export", "goal", "install-tickets"]));
    assert_eq!(exported, replica_reads[GOAL_CSV].1);
    for command in [&["serve", "--bind", "127.0.0.1:0"][..], &["migrate"]] {
        let output = tally_on(&replica_url).args(command).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command:?} ran on a standby");
        assert!(stderr.contains("this database is a read-only standby"), "{command:?}: {stderr}");
        if command[0] == "serve" {
            assert!(
                stderr.contains("run `tally insights serve` here, or point serve at the primary"),
                "{stderr}"
            );
        }
    }

    // Forced read-only (TALLY_INSIGHTS_READ_ONLY) on the primary: the same refusals.
    let mut forced = tally_on(&primary_url);
    forced.env("TALLY_INSIGHTS_READ_ONLY", "true");
    let forced = Serving::start_as(forced, &["insights", "serve", "--bind", "127.0.0.1:0"], "listening: ");
    assert_eq!(status_of(&forced)["read_only"], true);
    assert_refused(&forced, "PUT", GOAL, "application/json", goal, "GET");
    assert_eq!(get(&forced, REPORT), get(&lrs, REPORT));
}

#[test]
fn a_replica_without_every_migration_is_refused() {
    let primary = PgCluster::start();
    primary.create_database("tally");
    let standby = primary.start_standby();
    let replica_url = standby.url("tally");
    let refused = |needle: &str| {
        let output =
            tally_on(&replica_url).args(["insights", "serve", "--bind", "127.0.0.1:0"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started on a replica without the schema: {stderr}");
        assert!(stderr.contains(needle) && stderr.contains("migrate the primary"), "{stderr}");
    };

    // An empty replica: the primary was never migrated.
    primary.wait_for_replay(&standby, REPLAY);
    refused("holds schema migrations up to 0");

    // A replica one migration behind this binary.
    stdout_of(tally_on(&primary.url("tally")).arg("migrate"));
    let newest = primary.query("tally", "SELECT MAX(version) FROM schema_migrations");
    primary.query("tally", &format!("DELETE FROM schema_migrations WHERE version = {newest}"));
    primary.wait_for_replay(&standby, REPLAY);
    let behind = newest.parse::<i64>().unwrap() - 1;
    refused(&format!("holds schema migrations up to {behind}, but this binary needs {newest}"));

    // Once the primary holds it again, the replica serves.
    primary.query("tally", &format!("INSERT INTO schema_migrations (version, applied) VALUES ({newest}, 0)"));
    primary.wait_for_replay(&standby, REPLAY);
    let replica = insights_on(&replica_url, &[]);
    assert_eq!(get(&replica, "/ready").0, 200);
}

#[test]
fn the_embedded_store_is_never_read_only() {
    let db = TestDatabase::new(Backend::Sqlite);
    let output = support::tally()
        .arg("--data-dir")
        .arg(db.data_dir())
        .args(["insights", "serve", "--read-only", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--read-only needs a PostgreSQL database"));
}
