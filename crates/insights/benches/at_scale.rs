//! Insights at scale: a goal report over about a million statements and a hundred thousand
//! tickets, the rollup engine's catch-up rate against the store's ingest rate, and CSV
//! export rows/s. Not a test: it prints figures for `benches/RESULTS.md`.
//!
//! ```sh
//! cargo bench -p insights --bench at_scale -- --backend postgres --statements 1000000 --tickets 100000
//! ```
//!
//! The data is the demo's "working" scenario with more people (and more unrelated tickets,
//! to reach the ticket count), so the report has a known answer to check.

use std::time::{Duration, Instant};

use insights::demo::Scenario;
use insights::import::import_file;
use insights::report::Interval;
use insights::service::{Bucket, GroupBy};
use insights::tickets::{ImportOptions, InputFormat, Preset};
use insights::{engine, export, service};
use store::{DEFAULT_STORE, PgStore, SqliteStore, StatementQuery, Store};
use test_support::{Backend, TestDatabase};

struct Options {
    backend: Backend,
    statements: usize,
    tickets: usize,
}

fn options() -> Options {
    let mut options = Options { backend: Backend::Sqlite, statements: 1_000_000, tickets: 100_000 };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--backend" => {
                options.backend = if pair[1] == "postgres" { Backend::Postgres } else { Backend::Sqlite }
            }
            "--statements" => options.statements = pair[1].parse().expect("--statements N"),
            "--tickets" => options.tickets = pair[1].parse().expect("--tickets N"),
            _ => {}
        }
    }
    options
}

/// The working scenario scaled to about `statements` statements and `tickets` tickets.
fn scaled(statements: usize, tickets: usize) -> Scenario {
    let sample = Scenario { people: 1_000, ..Scenario::working() };
    let data = sample.generate();
    let per_person = data.statements.len() as f64 / 1_000.0;
    let tickets_per_person = (data.tickets_csv.lines().count() - 1) as f64 / 1_000.0;
    let people = (statements as f64 / per_person).round() as u32;
    let weeks = f64::from(sample.weeks_before + sample.weeks_after);
    let wanted_per_person = tickets as f64 / f64::from(people);
    let other = sample.other_tickets_per_person_week + (wanted_per_person - tickets_per_person) / weeks;
    Scenario { people, other_tickets_per_person_week: other.max(0.0), ..sample }
}

fn rate(count: usize, took: Duration) -> String {
    format!("{count} in {:.1} s = {:.0}/s", took.as_secs_f64(), count as f64 / took.as_secs_f64())
}

async fn run<S: Store>(store: S, db: &TestDatabase, options: &Options) {
    let started = Instant::now();
    let scenario = scaled(options.statements, options.tickets);
    let data = scenario.generate();
    let ticket_count = data.tickets_csv.lines().count() - 1;
    println!(
        "generated {} statements, {ticket_count} tickets ({} people) in {:.1} s",
        data.statements.len(),
        scenario.people,
        started.elapsed().as_secs_f64()
    );

    // Ingest straight into the store, 1,000 statements per batch, one writer.
    let started = Instant::now();
    for batch in data.batches(1_000) {
        store.write_statements(batch).await.expect("stored");
    }
    println!("ingest (store API, batches of 1000):     {}", rate(data.statements.len(), started.elapsed()));

    let csv = db.scratch("tickets.csv");
    std::fs::write(&csv, &data.tickets_csv).expect("written");
    let started = Instant::now();
    let options = ImportOptions::new(Preset::Zendesk);
    let summary = import_file(&store, DEFAULT_STORE, &csv, InputFormat::Csv, options, false, |_| {})
        .await
        .expect("imported");
    assert_eq!(summary.inserted as usize, ticket_count, "{:?}", summary.rejected_rows.first());
    println!("ticket import (Zendesk CSV):              {}", rate(ticket_count, started.elapsed()));

    let started = Instant::now();
    let followed = engine::catch_up(&store).await.expect("rolled up");
    println!("rollup catch-up:                          {}", rate(followed as usize, started.elapsed()));

    store.put_goal(DEFAULT_STORE, "install", &data.goal.to_string()).await.expect("goal");
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (_, report) = service::goal_report(
            &store,
            DEFAULT_STORE,
            "install",
            Some(scenario.target_date()),
            Interval::Week,
        )
        .await
        .expect("report");
        times.push(started.elapsed());
        assert_eq!(report.diagnosis.code, "working", "the scaled scenario keeps its answer");
    }
    times.sort();
    println!(
        "goal report (5 runs):                     min {:.0} ms, median {:.0} ms, max {:.0} ms",
        times[0].as_secs_f64() * 1e3,
        times[2].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let groups = service::ticket_summary(&store, DEFAULT_STORE, GroupBy::Tag, Bucket::Week, None, None)
        .await
        .expect("summary");
    println!(
        "ticket summary (by tag and week, all):    {:.0} ms ({} groups)",
        started.elapsed().as_secs_f64() * 1e3,
        groups.len()
    );

    let mut sink = std::io::sink();
    let started = Instant::now();
    let query = StatementQuery {
        filter: Default::default(),
        ascending: true,
        limit: export::STATEMENT_PAGE,
        cursor: None,
    };
    let page = |cursor| export::statement_page(&store, DEFAULT_STORE, query.clone(), cursor);
    let rows = export::write_paged(&mut sink, export::STATEMENT_COLUMNS, page, export::statement_row)
        .await
        .expect("exported");
    assert_eq!(rows as usize, data.statements.len());
    println!("statements.csv export:                    {}", rate(rows as usize, started.elapsed()));
    let started = Instant::now();
    let page = |cursor| export::ticket_page(&store, DEFAULT_STORE, cursor);
    let rows = export::write_paged(&mut sink, export::TICKET_COLUMNS, page, export::ticket_row)
        .await
        .expect("exported");
    assert_eq!(rows as usize, ticket_count);
    println!("tickets.csv export:                       {}", rate(rows as usize, started.elapsed()));
}

#[tokio::main]
async fn main() {
    let options = options();
    let db = TestDatabase::new(options.backend);
    println!("backend: {:?}", options.backend);
    match options.backend {
        Backend::Sqlite => run(SqliteStore::open(db.data_dir()).expect("open"), &db, &options).await,
        Backend::Postgres => {
            run(PgStore::connect(db.database_url().expect("url")).await.expect("connect"), &db, &options)
                .await
        }
    }
}
