//! The measure-and-update report on generated data whose right answer is known, on both
//! backends: content that works, content that does not reach people, a video people leave
//! at 40%, and content that is watched but changes nothing.

use insights::demo::Scenario;
use insights::import::import_file;
use insights::report::{Interval, Report};
use insights::service::VideoReport;
use insights::tickets::{ImportOptions, InputFormat, Preset};
use insights::{engine, service};
use store::{DEFAULT_STORE, PgStore, SqliteStore, Store};
use test_support::{Backend, TestDatabase};

/// What a scenario's checks may look at beside its report.
struct Loaded {
    /// `GET /insights/videos` for the main video.
    main_video: VideoReport,
}

/// Loads a scenario into a fresh store, rolls it up, and reports on its goal as of the
/// target date.
async fn report_on<S: Store>(store: &S, db: &TestDatabase, scenario: &Scenario) -> (Loaded, Report) {
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
    let main_video =
        service::video(store, DEFAULT_STORE, insights::demo::MAIN_VIDEO).await.expect("the video");
    (Loaded { main_video }, report)
}

async fn on_backend(backend: Backend, scenario: Scenario) -> (Loaded, Report) {
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
        let [_, high] = report.effect.ci95.unwrap();
        assert!(high < 0.8, "viewers file fewer tickets: {}", show(&report));
        assert!(report.reach.population_share > 0.3 && report.reach.at_risk_share > 0.3, "{}", show(&report));
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
        assert!(report.reach.population_share < 0.3, "{}", show(&report));
    }

    viewers_leaving_at_forty_percent_is_drop_off_there: Scenario::drop_off_at(0.4) => |report, data| {
        assert_eq!(report.diagnosis.code, "drop_off", "{}", show(&report));
        let video = report.consumption.video.as_ref().expect("video consumption");
        assert_eq!(video.largest_drop_at, Some(0.4), "{}", show(&report));
        // To the percent and the second, on the main video: viewers stop at 36–44%.
        let drop = video.largest_drop.as_ref().expect("a drop");
        assert_eq!(drop.activity_id, insights::demo::MAIN_VIDEO);
        assert!(drop.from >= 0.35 && drop.to <= 0.46 && drop.from < 0.4 && drop.to > 0.4, "{drop:?}");
        assert!(drop.lost > 0.8, "{drop:?}");
        let (from_s, to_s) = (drop.from_s.unwrap(), drop.to_s.unwrap());
        assert!((from_s - drop.from * 184.0).abs() < 0.1 && (to_s - drop.to * 184.0).abs() < 0.1, "{drop:?}");
        assert!(report.diagnosis.action.contains(&drop.place()), "{}", report.diagnosis.action);
        assert_eq!(data.main_video.drop.as_ref(), Some(drop), "GET /insights/videos locates it alike");
        assert_ne!(report.status, "met");
    }

    content_watched_without_effect_is_no_effect: Scenario::no_effect() => |report, data| {
        assert_eq!(report.diagnosis.code, "no_effect", "{}", show(&report));
        assert!(report.consumption.completion_rate > 0.5);
        assert_ne!(report.status, "met");
        assert!(report.feedback.responses > 0 && report.feedback.mean.is_some(), "{}", show(&report));
    }
}

/// The demo's working scenario with its ticket export cut two weeks before the report
/// date, as a team that imported an old export has it.
async fn report_on_an_early_export<S: Store>(store: &S, db: &TestDatabase, through: Option<&str>) -> Report {
    let scenario = Scenario::working();
    let data = scenario.generate();
    for batch in data.batches(500) {
        store.write_statements(batch).await.expect("stored");
    }
    let cut = scenario.target_date().checked_sub(jiff::Span::new().days(14)).unwrap().to_string();
    let mut reader = csv::Reader::from_reader(data.tickets_csv.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(reader.headers().unwrap()).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        if record[1] < *cut.as_str() {
            writer.write_record(&record).unwrap();
        }
    }
    let csv = db.scratch("early.csv");
    std::fs::write(&csv, writer.into_inner().unwrap()).unwrap();
    let mut options = ImportOptions::new(Preset::Zendesk);
    options.through = through.map(|t| insights::import::parse_through(t).unwrap());
    let summary =
        import_file(store, DEFAULT_STORE, &csv, InputFormat::Csv, options, false, |_| {}).await.unwrap();
    assert_eq!(summary.known_through.len(), 1, "{summary:?}");
    store.put_goal(DEFAULT_STORE, "install", &data.goal.to_string()).await.unwrap();
    engine::catch_up(store).await.expect("rolled up");
    let (_, report) =
        service::goal_report(store, DEFAULT_STORE, "install", Some(scenario.target_date()), Interval::Week)
            .await
            .expect("a report");
    report
}

async fn early_export(backend: Backend, through: Option<&str>) -> Report {
    let db = TestDatabase::new(backend);
    match backend {
        Backend::Sqlite => {
            report_on_an_early_export(&SqliteStore::open(db.data_dir()).unwrap(), &db, through).await
        }
        Backend::Postgres => {
            let store = PgStore::connect(db.database_url().unwrap()).await.unwrap();
            report_on_an_early_export(&store, &db, through).await
        }
    }
}

fn ends_where_the_tickets_are_known(report: &Report, known_through: &str) {
    assert_eq!(report.tickets.known_through.as_deref(), Some(known_through), "{}", show(report));
    assert_eq!(report.window.end_reason, "tickets_known_through");
    let end = report.window.end.parse::<jiff::Timestamp>().unwrap();
    let through = known_through.parse::<jiff::Timestamp>().unwrap();
    assert_eq!(end, through + jiff::SignedDuration::from_micros(1));
    // No series point starts after the end; the one the end falls in says it is partial,
    // and no week after the cut reads as zero tickets.
    let last = report.tickets.series.last().unwrap();
    assert!(last.start.parse::<jiff::civil::Date>().unwrap() <= end.to_zoned(jiff::tz::TimeZone::UTC).date());
    assert!(report.tickets.series.iter().rev().skip(1).all(|p| !p.partial), "{}", show(report));
    assert!(report.tickets.series.iter().all(|p| p.tickets > 0 || p.partial), "{}", show(report));
    // The last period ends at the cut too, and says it is partial.
    let (last_period, earlier) = report.periods.split_last().unwrap();
    assert!(last_period.partial && earlier.iter().all(|p| !p.partial), "{}", show(report));
    // The goal's CSV says so too: its last interval row ends there, partial unless the
    // end falls on an interval's boundary.
    let csv = String::from_utf8(insights::export::goal_csv(report)).unwrap();
    let last_interval = csv.lines().rfind(|l| l.starts_with("interval,")).unwrap();
    let end_date = end.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    if last.partial {
        assert!(last_interval.contains(&format!(",{},", report.window.end)), "{last_interval}");
        assert!(last_interval.ends_with(",true"), "{last_interval}");
    } else {
        assert_eq!(
            report.window.end,
            format!("{end_date}T00:00:00Z"),
            "only a boundary ends a whole interval"
        );
        assert!(
            last_interval.contains(&format!(",{end_date},")) && last_interval.ends_with(",false"),
            "{last_interval}"
        );
    }
    // The effect and the change still see the content working, not a 100% drop.
    assert_eq!(report.diagnosis.code, "working", "{}", show(report));
    assert!(report.tickets.change_pct.unwrap() > -95.0, "{}", show(report));
}

macro_rules! early_export_tests {
    ($($name:ident: $through:expr => $known:expr;)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let report = early_export(Backend::Sqlite, $through).await;
                    ends_where_the_tickets_are_known(&report, $known.unwrap_or(report.tickets.known_through.clone().unwrap().as_str()));
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let report = early_export(Backend::Postgres, $through).await;
                    ends_where_the_tickets_are_known(&report, $known.unwrap_or(report.tickets.known_through.clone().unwrap().as_str()));
                }
            }
        )*
    };
}

early_export_tests! {
    // Without `through`, the export covers up to its latest ticket.
    an_export_that_ends_early_is_known_through_its_latest_ticket: None => None::<&str>;
    // A date covers that whole day.
    an_export_with_a_through_date_is_known_through_the_end_of_that_day: Some("2025-04-13") => Some("2025-04-13T23:59:59.999999Z");
}
