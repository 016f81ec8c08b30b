//! Statement validation throughput: `xapi::Statement::parse` on generated statements (the
//! issue's target is at least 100,000 statements/s per core), and `parse_statements` on a
//! request body of 100, which adds the JSON decoding the server does first.
//!
//! `cargo bench -p tally-benches --bench validation`. Criterion runs on one thread, so
//! the statements/s it reports are per core.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use tally_benches::generator::Generator;
use xapi::{Statement, Version};

/// Distinct statements cycled through (video and course statements alternate).
const POOL: u64 = 1_000;

fn validation(c: &mut Criterion) {
    let generator = Generator::default();
    let statements: Vec<Value> = (0..POOL).map(|n| generator.statement(n)).collect();
    let mut group = c.benchmark_group("validation");
    group.throughput(Throughput::Elements(1));
    for (name, version) in
        [("Statement::parse/1.0.3", Version::V1_0), ("Statement::parse/2.0.0", Version::V2_0)]
    {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    next = (next + 1) % statements.len();
                    statements[next].clone()
                },
                |statement| Statement::parse(statement, version).expect("valid"),
                BatchSize::SmallInput,
            )
        });
    }
    let bodies: Vec<String> = (0..10).map(|i| generator.body(i * 100..(i + 1) * 100)).collect();
    group.throughput(Throughput::Elements(100));
    let mut next = 0;
    group.bench_function("parse_statements/json_body_of_100", |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            xapi::parse_statements(bodies[next].as_bytes(), Version::V1_0).expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
