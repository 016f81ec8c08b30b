//! The store's insert and query paths, through the public `store` API, on SQLite (a
//! temporary directory) and PostgreSQL (a schema of its own in the database at
//! `TALLY_BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/tally_bench`,
//! dropped afterwards; skipped with a note when that database cannot be reached).
//!
//! `cargo bench -p tally-benches --bench store [-- FILTER]`. Each backend is preloaded with
//! `TALLY_BENCH_PRELOAD` statements (default 20,000) for the queries; inserts then add to
//! the same store. Every write waits for its commit (fsync), as the LRS does.
//!
//! - `insert/1`: one statement per `write_statements`, one after the other (the latency
//!   of an uncontended single write);
//! - `insert/1x32`: 32 single-statement writes at once (group commit shares a transaction);
//! - `insert/100`: batches of 100;
//! - `query/{verb,agent,registration}`: the newest page of 100 for a value that exists.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use serde_json::json;
use store::{DEFAULT_STORE, PgStore, SqliteStore, StatementBatch, StatementFilter, StatementQuery, Store};
use tally_benches::generator::{Generator, learner_mbox};
use tally_benches::queries::Rng;
use tokio::runtime::Runtime;
use xapi::{AgentKey, Statement, Version};

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tally_bench";

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let preload: u64 =
        std::env::var("TALLY_BENCH_PRELOAD").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);

    let dir = tempfile::Builder::new().prefix("tally-bench-").tempdir().expect("temporary directory");
    let sqlite = runtime.block_on(async { SqliteStore::open(dir.path()) }).expect("open SQLite store");
    bench_store(&mut criterion, &runtime, "sqlite", &sqlite, preload);
    drop(sqlite);

    let admin_url = std::env::var("TALLY_BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
    let schema = format!("tally_bench_{}", uuid::Uuid::new_v4().simple());
    match runtime.block_on(run_sql(&admin_url, &format!("CREATE SCHEMA {schema}"))) {
        Err(e) => eprintln!(
            "PostgreSQL benchmarks skipped: {admin_url} cannot be used ({e}). Create the database \
             (createdb -h 127.0.0.1 -U postgres tally_bench) or set TALLY_BENCH_DATABASE_URL."
        ),
        Ok(()) => {
            let separator = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
            let postgres = runtime.block_on(PgStore::connect(&url)).expect("connect PostgreSQL store");
            bench_store(&mut criterion, &runtime, "postgres", &postgres, preload);
            drop(postgres);
            if let Err(e) = runtime.block_on(run_sql(&admin_url, &format!("DROP SCHEMA {schema} CASCADE"))) {
                eprintln!("could not drop schema {schema}: {e}");
            }
        }
    }
    criterion.final_summary();
}

/// A batch of generated statements `range`, parsed as the server parses them.
fn batch(generator: &Generator, range: std::ops::Range<u64>) -> StatementBatch {
    StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "bench" } }),
        // As for a credential with the `define` scope: definitions are merged, the costlier path.
        define: true,
        keep_stored: false,
        statements: range
            .map(|n| Statement::parse(generator.statement(n), Version::V1_0).expect("valid statement"))
            .collect(),
        attachments: Vec::new(),
    }
}

/// The filter of a query kind for the values of statement `n`.
type FilterOf = fn(&Generator, u64) -> StatementFilter;

fn bench_store<S: Store>(c: &mut Criterion, runtime: &Runtime, backend: &str, store: &S, preload: u64) {
    let generator = Generator::default();
    let started = Instant::now();
    for first in (0..preload).step_by(500) {
        let end = (first + 500).min(preload);
        runtime.block_on(store.write_statements(batch(&generator, first..end))).expect("preload");
    }
    eprintln!("{backend}: preloaded {preload} statements in {:.1} s", started.elapsed().as_secs_f64());

    let mut group = c.benchmark_group(format!("store/{backend}/query"));
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng::new(1);
    let kinds: [(&str, FilterOf); 3] = [
        ("verb", |g, n| StatementFilter { verb: Some(g.facts(n).verb.to_string()), ..Default::default() }),
        ("agent", |g, n| {
            let agent = json!({ "mbox": learner_mbox(g.facts(n).learner) });
            StatementFilter { agent: AgentKey::of(agent.as_object().unwrap()), ..Default::default() }
        }),
        ("registration", |g, n| StatementFilter {
            registration: Some(g.facts(n).registration),
            ..Default::default()
        }),
    ];
    for (name, filter) in kinds {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let query = StatementQuery {
                        filter: filter(&generator, rng.below(preload.max(1))),
                        ascending: false,
                        limit: 100,
                        cursor: None,
                    };
                    let t = Instant::now();
                    let page = runtime.block_on(store.query_statements(DEFAULT_STORE, query)).expect("query");
                    total += t.elapsed();
                    assert!(!page.statements.is_empty(), "{name}: no statement found");
                }
                total
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("store/{backend}/insert"));
    let mut next = preload;
    for (size, concurrent) in [(1u64, 1u64), (1, 32), (100, 1)] {
        let id = if concurrent == 1 { size.to_string() } else { format!("{size}x{concurrent}") };
        group.throughput(Throughput::Elements(size * concurrent));
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let batches: Vec<StatementBatch> = (0..concurrent)
                        .map(|i| batch(&generator, next + i * size..next + (i + 1) * size))
                        .collect();
                    next += size * concurrent;
                    let t = Instant::now();
                    runtime.block_on(async {
                        let writes = batches.into_iter().map(|b| {
                            let store = store.clone();
                            tokio::spawn(async move { store.write_statements(b).await })
                        });
                        for write in writes.collect::<Vec<_>>() {
                            write.await.expect("write task").expect("write");
                        }
                    });
                    total += t.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// Runs one SQL statement on its own connection.
async fn run_sql(url: &str, sql: &str) -> Result<(), String> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let result = client.batch_execute(sql).await.map_err(|e| e.to_string());
    drop(client);
    let _ = connection.await;
    result
}
