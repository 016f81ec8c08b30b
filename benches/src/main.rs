//! `tally-load`: drives an LRS with realistic statements and reports throughput and latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine;
use clap::Parser;
use serde_json::Value;
use tally_benches::generator::Generator;
use tally_benches::stats::Latencies;

/// Posts generated statements to an LRS and reports statements/s and latency.
#[derive(Debug, Parser)]
#[command(name = "tally-load")]
struct Args {
    /// xAPI base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/xapi")]
    url: String,
    /// Basic auth key.
    #[arg(long, env = "TALLY_LOAD_KEY")]
    key: String,
    /// Basic auth secret.
    #[arg(long, env = "TALLY_LOAD_SECRET")]
    secret: String,
    /// Statements per request (1 = single-statement POSTs).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Statements to send in all.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", args.key, args.secret))
    );
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.concurrency {
            let (next, latencies, errors, args, authorization) =
                (&next, &latencies, &errors, &args, &authorization);
            scope.spawn(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let generator = Generator::default();
                let url = format!("{}/statements", args.url);
                let mut mine = Vec::new();
                loop {
                    let first = next.fetch_add(args.batch as u64, Ordering::Relaxed);
                    if first >= args.count {
                        break;
                    }
                    let end = (first + args.batch as u64).min(args.count);
                    let body = if args.batch == 1 {
                        generator.statement(first).to_string()
                    } else {
                        Value::Array((first..end).map(|n| generator.statement(n)).collect()).to_string()
                    };
                    let sent = Instant::now();
                    let status = agent
                        .post(&url)
                        .header("Authorization", authorization)
                        .header("X-Experience-API-Version", "1.0.3")
                        .header("Content-Type", "application/json")
                        .send(&body)
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    mine.push(sent.elapsed());
                    if status != 200 {
                        *errors.lock().unwrap().entry(status).or_default() += 1;
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let elapsed = started.elapsed();
    let latencies = Latencies::from_samples(latencies.lock().unwrap().iter().copied());
    let requests = latencies.count() as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!("statements: {}  batch: {}  concurrency: {}", args.count, args.batch, args.concurrency);
    println!("elapsed: {:.2} s", elapsed.as_secs_f64());
    println!("statements/s: {:.0}", args.count as f64 / elapsed.as_secs_f64());
    println!("requests/s: {:.0}", requests / elapsed.as_secs_f64());
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(latencies.percentile(50.0)),
        ms(latencies.percentile(90.0)),
        ms(latencies.percentile(99.0)),
        ms(latencies.max())
    );
    println!("errors by status: {:?}", errors.lock().unwrap());
    Ok(())
}
