//! Loads a simulated scenario as Tally's users would and reports on it (shared by
//! `tests/simulation.rs` and `benches/simulation.rs`).

use std::path::Path;

use insights::import::import_file;
use insights::report::Interval;
use insights::simulate::Scenario;
use insights::tickets::{ImportOptions, InputFormat, Preset};
use insights::{engine, service};
use serde_json::Value;
use store::{Store, StoreId};

/// Writes a scenario's files to `dir`, loads them into the tenant `id` of `store`
/// (statements through the store, the Zendesk export through the ticket import with the
/// `through` its parameters give, the goal), rolls it up and reports on its goal as of its
/// report date; returns the report as JSON.
pub async fn report_on<S: Store>(store: &S, id: StoreId, dir: &Path, scenario: &Scenario) -> Value {
    let files = scenario.generate();
    files.write_to(dir).expect("files written");
    for batch in files.batches(id, 1_000) {
        store.write_statements(batch).await.expect("stored");
    }
    let parameters: Value = serde_json::from_str(&files.scenario_json).expect("scenario.json");
    let through = parameters
        .get("tickets_through")
        .and_then(Value::as_str)
        .map(|t| t.parse::<jiff::Timestamp>().expect("an RFC 3339 instant").as_microsecond());
    let options = ImportOptions { through, ..ImportOptions::new(Preset::Zendesk) };
    let summary = import_file(store, id, &dir.join("tickets.csv"), InputFormat::Csv, options, false, |_| {})
        .await
        .expect("imported");
    assert_eq!(summary.rejected, 0, "seed {}: {:?}", scenario.seed, summary.rejected_rows);
    store.put_goal(id, "goal", &files.goal_json).await.expect("goal stored");
    engine::catch_up(store).await.expect("rolled up");
    let (_, report) = service::goal_report(store, id, "goal", Some(scenario.as_of()), Interval::Week)
        .await
        .expect("a report");
    serde_json::to_value(&report).expect("the report is JSON")
}
