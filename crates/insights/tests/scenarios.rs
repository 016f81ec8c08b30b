//! The measure-and-update report on generated data whose right answer is known, on both
//! backends: content that works, content that does not reach people, a video people leave
//! at 40%, and content that is watched but changes nothing.

use insights::demo::{DemoData, Scenario};
use insights::import::import_file;
use insights::report::{Interval, Report};
use insights::tickets::{ImportOptions, InputFormat, Preset};
use insights::{engine, service};
use store::{DEFAULT_STORE, PgStore, SqliteStore, Store};
use test_support::{Backend, TestDatabase};

/// Loads a scenario into a fresh store, rolls it up, and reports on its goal as of the
/// target date.
async fn report_on<S: Store>(store: &S, db: &TestDatabase, scenario: &Scenario) -> (DemoData, Report) {
    let data = scenario.generate();
    for batch in data.batches(500) {
        store.write_statements(batch).await.expect("stored");
    }
    let csv = db.scratch("tickets.csv");
    std::fs::write(&csv, &data.tickets_csv).unwrap();
    let summary = import_file(
        store,
        DEFAULT_STORE,
        &csv,
        InputFormat::Csv,
        ImportOptions::new(Preset::Zendesk),
        false,
        |_| {},
    )
    .await
    .expect("imported");
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejected_rows);
    store.put_goal(DEFAULT_STORE, "install", &data.goal.to_string()).await.unwrap();
    engine::catch_up(store).await.expect("rolled up");
    let (_, report) =
        service::goal_report(store, DEFAULT_STORE, "install", Some(scenario.target_date()), Interval::Week)
            .await
            .expect("a report");
    (data, report)
}

async fn on_backend(backend: Backend, scenario: Scenario) -> (DemoData, Report) {
    let db = TestDatabase::new(backend);
    match backend {
        Backend::Sqlite => report_on(&SqliteStore::open(db.data_dir()).unwrap(), &db, &scenario).await,
        Backend::Postgres => {
            report_on(&PgStore::connect(db.database_url().unwrap()).await.unwrap(), &db, &scenario).await
        }
    }
}

fn show(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

macro_rules! scenario_tests {
    ($($name:ident: $scenario:expr => |$report:ident, $data:ident| $check:block)*) => {
        $(
            mod $name {
                use super::*;

                async fn check(backend: Backend) {
                    let ($data, $report) = on_backend(backend, $scenario).await;
                    let _ = &$data;
                    $check
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    check(Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    check(Backend::Postgres).await
                }
            }
        )*
    };
}

scenario_tests! {
    content_that_works_meets_the_goal: Scenario::working() => |report, data| {
        assert_eq!(report.diagnosis.code, "working", "{}", show(&report));
        assert_eq!(report.status, "met", "{}", show(&report));
        assert!(report.tickets.change_pct.unwrap() <= -30.0, "{}", show(&report));
        let effect = report.effect.relative_difference.unwrap();
        assert!(effect < -0.2, "viewers file fewer tickets: {effect}");
        assert!(report.reach.requesters_seen_before_share > 0.3);
        // The chatbot's update shows as a new revision (from context.revision), and the
        // report starts a period there.
        let revision = report.revisions.iter().find(|r| r.revision.as_deref() == Some("2025.03-install-videos"));
        assert!(revision.is_some(), "{}", show(&report));
        // It went live on launch day, so it shares the launch's period.
        let after_launch = &report.periods[1];
        assert!(after_launch.name.starts_with("after launch and revision 2025.03-install-videos"), "{}", show(&report));
        assert_eq!(after_launch.from, "2025-03-03", "{}", show(&report));
    }

    content_nobody_reaches_is_low_reach: Scenario::low_reach() => |report, data| {
        assert_eq!(report.diagnosis.code, "low_reach", "{}", show(&report));
        assert!(report.diagnosis.action.contains("promotion or placement"));
        assert_ne!(report.status, "met");
        assert!(report.reach.requesters_seen_before_share < 0.3, "{}", show(&report));
    }

    viewers_leaving_at_forty_percent_is_drop_off_there: Scenario::drop_off_at(0.4) => |report, data| {
        assert_eq!(report.diagnosis.code, "drop_off", "{}", show(&report));
        let video = report.consumption.video.as_ref().expect("video consumption");
        assert_eq!(video.largest_drop_at, Some(0.4), "{}", show(&report));
        assert!(report.diagnosis.action.contains("40%"), "{}", report.diagnosis.action);
        assert_ne!(report.status, "met");
    }

    content_watched_without_effect_is_no_effect: Scenario::no_effect() => |report, data| {
        assert_eq!(report.diagnosis.code, "no_effect", "{}", show(&report));
        assert!(report.consumption.completion_rate > 0.5);
        assert_ne!(report.status, "met");
        assert!(report.feedback.responses > 0 && report.feedback.mean.is_some(), "{}", show(&report));
    }
}
