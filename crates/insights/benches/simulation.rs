//! The goal report over many seeded random scenarios against a truth worked out
//! independently from the files each one writes (`tests/simulation/truth.rs`). Not a test:
//! it prints how often the diagnosis of clear cases is right, how often the report says
//! it cannot tell yet, how often the effect's 95% interval covers the ratio the data was
//! made with (overall, by population and by true ratio), the largest disagreement of any
//! count or rate with the truth, and the run time.
//!
//! ```sh
//! cargo bench -p insights --bench simulation -- --scenarios 500 [--backend sqlite|postgres] [--max-people 20000] [--first-seed N]
//! ```

#[path = "../tests/simulation/load.rs"]
mod load;
#[path = "../tests/simulation/truth.rs"]
mod truth;

use std::time::Instant;

use insights::simulate::{Ranges, Scenario};
use store::{DEFAULT_STORE, PgStore, SqliteStore};
use test_support::{Backend, TestDatabase};
use truth::{Outcome, Summary, Truth};

struct Options {
    backend: Backend,
    scenarios: u64,
    max_people: u32,
    first_seed: u64,
}

fn options() -> Options {
    let mut options = Options { backend: Backend::Sqlite, scenarios: 500, max_people: 20_000, first_seed: 1 };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--backend" => {
                options.backend = if pair[1] == "postgres" { Backend::Postgres } else { Backend::Sqlite }
            }
            "--scenarios" => options.scenarios = pair[1].parse().expect("--scenarios N"),
            "--max-people" => options.max_people = pair[1].parse().expect("--max-people N"),
            "--first-seed" => options.first_seed = pair[1].parse().expect("--first-seed N"),
            _ => {}
        }
    }
    options.max_people = options.max_people.max(300);
    options
}

async fn outcome(backend: Backend, scenario: &Scenario) -> Outcome {
    let db = TestDatabase::new(backend);
    let dir = db.scratch("files");
    let report = match backend {
        Backend::Sqlite => {
            load::report_on(&SqliteStore::open(db.data_dir()).expect("open"), DEFAULT_STORE, &dir, scenario)
                .await
        }
        Backend::Postgres => {
            let store = PgStore::connect(db.database_url().expect("a URL")).await.expect("connect");
            load::report_on(&store, DEFAULT_STORE, &dir, scenario).await
        }
    };
    Outcome::of(scenario.seed, &Truth::of_files(&dir), &report)
}

fn band_line(name: &str, outcomes: &[&Outcome]) {
    let s = Summary::of(outcomes.iter().copied());
    println!(
        "  {name:<16} {:>4} scenarios, ci95 coverage {:>5.1}% ({}/{}), clear decided right {:>5.1}% ({}/{}), not yet measurable {}",
        s.scenarios,
        100.0 * s.coverage(),
        s.covered,
        s.with_interval,
        100.0 * s.accuracy_decided(),
        s.right,
        s.decided,
        s.not_yet_measurable
    );
}

#[tokio::main]
async fn main() {
    let options = options();
    let ranges = Ranges::with_people(300..=options.max_people);
    println!(
        "backend: {:?}, {} scenarios from seed {}, 300..={} people",
        options.backend, options.scenarios, options.first_seed, options.max_people
    );
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for n in 0..options.scenarios {
        let scenario = Scenario::random(options.first_seed + n, &ranges);
        let one = Instant::now();
        let outcome = outcome(options.backend, &scenario).await;
        if !outcome.disagreements.is_empty() {
            println!(
                "seed {}: disagrees with the truth: {}",
                scenario.seed,
                outcome.disagreements.join("; ")
            );
        }
        if outcome.decided() && !outcome.right() {
            println!(
                "seed {}: expected {:?}, got {} ({scenario:?})",
                scenario.seed, outcome.expected, outcome.code
            );
        }
        if (n + 1) % 50 == 0 {
            println!(
                "  … {} scenarios in {:.0} s (last: {} people, {:.1} s)",
                n + 1,
                started.elapsed().as_secs_f64(),
                scenario.people,
                one.elapsed().as_secs_f64()
            );
        }
        outcomes.push(outcome);
    }
    let took = started.elapsed().as_secs_f64();
    let summary = Summary::of(&outcomes);
    println!();
    println!("{}", summary.describe());
    println!(
        "diagnosis of clear cases: {:.1}% of decided right, {:.1}% of all clear right; not yet measurable: {:.1}% of clear",
        100.0 * summary.accuracy_decided(),
        100.0 * summary.accuracy_clear(),
        100.0 * summary.not_yet_measurable as f64 / summary.clear.max(1) as f64
    );
    let disagreeing = outcomes.iter().filter(|o| !o.disagreements.is_empty()).count();
    println!(
        "largest relative disagreement with the truth: {:.3e} at {}; scenarios with any disagreement: {disagreeing}",
        summary.largest_difference, summary.largest_difference_at
    );
    println!("ci95 coverage of the true ratio by population:");
    for (name, low, high) in [
        ("300–999", 0, 1_000),
        ("1 000–2 999", 1_000, 3_000),
        ("3 000–9 999", 3_000, 10_000),
        ("10 000+", 10_000, u64::MAX),
    ] {
        let band: Vec<&Outcome> = outcomes.iter().filter(|o| o.people >= low && o.people < high).collect();
        band_line(name, &band);
    }
    println!("ci95 coverage of the true ratio by true ratio:");
    for (name, low, high) in
        [("0.1–0.5", 0.0, 0.5), ("0.5–0.8", 0.5, 0.8), ("0.8–1.0", 0.8, 1.0), ("1.0–1.2", 1.0, 2.0)]
    {
        let band: Vec<&Outcome> =
            outcomes.iter().filter(|o| o.true_ratio >= low && o.true_ratio < high).collect();
        band_line(name, &band);
    }
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    for o in &outcomes {
        *codes.entry(o.code.clone()).or_default() += 1;
    }
    println!("diagnoses: {codes:?}");
    println!("run time: {took:.1} s ({:.2} s per scenario)", took / options.scenarios.max(1) as f64);
}
