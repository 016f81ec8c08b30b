//! The goal report against a truth worked out independently, over seeded random scenarios
//! on both backends: every count and rate must match, the diagnosis of clear cases must be
//! right, and the effect's interval must mostly cover the ratio the data was made with.
//!
//! Each scenario ([`insights::simulate`]) writes its files to a scratch directory; the
//! store loads them as Tally's users would (statements, a Zendesk import, a goal), and
//! `simulation/truth.rs` reads the same files without any of the report's code.

#[path = "simulation/load.rs"]
mod load;
#[path = "simulation/truth.rs"]
mod truth;

use std::time::Instant;

use insights::simulate::{Ranges, Scenario};
use store::{PgStore, SqliteStore, Store};
use test_support::{Backend, TestDatabase};
use truth::{Outcome, Summary, Truth};

/// How many scenarios each backend runs, unless `TALLY_SIMULATION_SCENARIOS` says.
const SCENARIOS: u64 = 50;
/// The first seed; scenario `n` has seed `FIRST_SEED + n`.
const FIRST_SEED: u64 = 0x7a11_0000;

/// Every scenario in a tenant of its own of one database. It runs as fast as a fresh
/// database per scenario (about 80 s for 50 on PostgreSQL on 2 cores, either way: loading
/// dominates, not creating schemas), and keeping the earlier tenants' data beside each new
/// one makes the tenants' separation one more thing the report must get right.
async fn outcomes<S: Store>(store: &S, db: &TestDatabase, seeds: impl Iterator<Item = u64>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for seed in seeds {
        let scenario = Scenario::random(seed, &Ranges::with_people(300..=2_000));
        let tenant = store.create_store(&format!("simulation-{seed}")).await.expect("a tenant");
        let dir = db.scratch(&format!("seed-{seed}"));
        let report = load::report_on(store, tenant.id, &dir, &scenario).await;
        let truth = Truth::of_files(&dir);
        let outcome = Outcome::of(seed, &truth, &report);
        assert!(
            outcome.disagreements.is_empty(),
            "seed {seed} ({scenario:?}): the report disagrees with the truth:\n  {}\nreport: {}",
            outcome.disagreements.join("\n  "),
            serde_json::to_string_pretty(&report).unwrap()
        );
        outcomes.push(outcome);
    }
    outcomes
}

async fn simulate_on(backend: Backend) {
    let started = Instant::now();
    let scenarios = std::env::var("TALLY_SIMULATION_SCENARIOS").ok().and_then(|n| n.parse().ok());
    let seeds = FIRST_SEED..FIRST_SEED + scenarios.unwrap_or(SCENARIOS);
    let db = TestDatabase::new(backend);
    let outcomes = match backend {
        Backend::Sqlite => outcomes(&SqliteStore::open(db.data_dir()).expect("open"), &db, seeds).await,
        Backend::Postgres => {
            let store = PgStore::connect(db.database_url().expect("a URL")).await.expect("connect");
            outcomes(&store, &db, seeds).await
        }
    };
    let summary = Summary::of(&outcomes);
    println!("{backend:?}: {} in {:.1} s", summary.describe(), started.elapsed().as_secs_f64());
    let wrong: Vec<String> = outcomes
        .iter()
        .filter(|o| o.decided() && !o.right())
        .map(|o| format!("seed {}: expected {:?}, got {}", o.seed, o.expected, o.code))
        .collect();
    assert!(
        summary.decided == 0 || summary.accuracy_decided() >= 0.98,
        "{}\nwrong: {wrong:#?}",
        summary.describe()
    );
    // 95% intervals over 50 scenarios: a loose bound that still catches an interval that
    // ignores how unevenly people file.
    assert!(summary.with_interval == 0 || summary.coverage() >= 0.8, "{}", summary.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_on_simulated_launches_agree_with_an_independent_truth_on_sqlite() {
    simulate_on(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_on_simulated_launches_agree_with_an_independent_truth_on_postgres() {
    simulate_on(Backend::Postgres).await
}
