//! `tally-load`: drives an LRS with realistic statements (write) or statement queries
//! (read) and reports throughput, latency, errors and its own CPU use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tally_benches::generator::Generator;
use tally_benches::procfs::{self, CpuTimes, MachineCpu, MemorySampler};
use tally_benches::queries::{self, QueryKind, Rng, StoredRange};
use tally_benches::report::{Interval, KindStats, Measured, Report};
use tally_benches::stats::{Errors, Latencies};

/// Drives an xAPI LRS with generated statements or statement queries and reports
/// throughput, latency percentiles, errors by status and the generator's own CPU use.
#[derive(Debug, Parser)]
#[command(name = "tally-load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// POST generated statements, singly or in batches (statement n = --start + i).
    Write(WriteArgs),
    /// GET statement queries whose values exist in a store loaded by `write`.
    Read(ReadArgs),
}

/// Options every mode shares.
#[derive(Debug, Args)]
struct Common {
    /// xAPI base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/xapi")]
    url: String,
    /// Basic auth key.
    #[arg(long, env = "TALLY_LOAD_KEY")]
    key: String,
    /// Basic auth secret.
    #[arg(long, env = "TALLY_LOAD_SECRET", hide_env_values = true)]
    secret: String,
    /// X-Experience-API-Version to send.
    #[arg(long, default_value = "1.0.3")]
    xapi_version: String,
    /// Concurrent clients (one thread and one connection each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this many statements (write) or requests (read). With neither this nor
    /// --duration, 10000.
    #[arg(long)]
    count: Option<u64>,
    /// Stop sending after this many seconds (whichever of --count and --duration ends first).
    #[arg(long)]
    duration: Option<f64>,
    /// Learners in the generator's pool (must match between write and read).
    #[arg(long, default_value_t = 5_000)]
    actors: usize,
    /// Videos and lessons in the generator's pool (must match between write and read).
    #[arg(long, default_value_t = 200)]
    activities: usize,
    /// Also sample this process (the server): its CPU time and resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print throughput every this many seconds to stderr (0: never); also kept in the
    /// JSON report's timeline.
    #[arg(long, default_value_t = 10.0)]
    progress: f64,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct WriteArgs {
    #[command(flatten)]
    common: Common,
    /// Statements per request (1 = single-statement POSTs).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Number of the first statement, to continue a store loaded by an earlier run.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Requests per second offered in all, whatever the answers take (open loop): request
    /// k is due k / rate seconds after the start and its latency counts from then, so a
    /// server that stalls cannot slow the load down and hide the stall. Without it each
    /// client sends its next request when the last is answered (closed loop).
    #[arg(long)]
    rate: Option<f64>,
}

#[derive(Debug, Args)]
struct ReadArgs {
    #[command(flatten)]
    common: Common,
    /// How many statements write mode loaded (statements 0..N); queries use their values.
    #[arg(long)]
    loaded: u64,
    /// Query kinds to run, in turn (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    queries: Vec<QueryKind>,
    /// `limit` parameter of each query (default: none, the server's page size).
    #[arg(long)]
    limit: Option<usize>,
    /// `more` links to follow per `more` query.
    #[arg(long, default_value_t = 5)]
    pages: usize,
    /// Seed of the query values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Write(args) => write(args),
        Command::Read(args) => read(args),
    }
}

/// The HTTP side of one client thread.
struct Client {
    agent: ureq::Agent,
    authorization: String,
    version: String,
}

impl Client {
    fn new(common: &Common) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let credentials = format!("{}:{}", common.key, common.secret);
        Client {
            agent,
            authorization: format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials)),
            version: common.xapi_version.clone(),
        }
    }

    /// POSTs a JSON body; the status, or `None` when no answer came. The answer is read
    /// whole so that the connection is kept for the next request.
    fn post(&self, url: &str, body: &str) -> Option<u16> {
        let mut response = self
            .agent
            .post(url)
            .header("Authorization", &self.authorization)
            .header("X-Experience-API-Version", &self.version)
            .header("Content-Type", "application/json")
            .send(body)
            .ok()?;
        response.body_mut().read_to_vec().ok()?;
        Some(response.status().as_u16())
    }

    /// GETs a URL; the status and the body.
    fn get(&self, url: &str) -> Option<(u16, String)> {
        let mut response = self
            .agent
            .get(url)
            .header("Authorization", &self.authorization)
            .header("X-Experience-API-Version", &self.version)
            .call()
            .ok()?;
        let body = response.body_mut().with_config().limit(256 * 1024 * 1024).read_to_string().ok()?;
        Some((response.status().as_u16(), body))
    }
}

/// When to stop: whichever of the count and the deadline comes first.
struct Bounds {
    count: u64,
    deadline: Option<Instant>,
}

impl Bounds {
    fn of(common: &Common, started: Instant) -> Bounds {
        let deadline = common.duration.map(|s| started + Duration::from_secs_f64(s));
        let count = common.count.unwrap_or(if deadline.is_some() { u64::MAX } else { 10_000 });
        Bounds { count, deadline }
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Progress counters shared by the client threads and the progress printer.
#[derive(Default)]
struct Progress {
    statements: AtomicU64,
    requests: AtomicU64,
    done: AtomicBool,
}

/// Prints throughput every `every` seconds until the run is done; returns the intervals.
fn spawn_progress(progress: Arc<Progress>, every: f64) -> std::thread::JoinHandle<Vec<Interval>> {
    std::thread::spawn(move || {
        let mut intervals = Vec::new();
        if every <= 0.0 {
            return intervals;
        }
        let started = Instant::now();
        let (mut last_at, mut last_statements, mut last_requests) = (0.0, 0, 0);
        let tick = Duration::from_millis(100);
        let mut next = every;
        while !progress.done.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            let at = started.elapsed().as_secs_f64();
            if at < next {
                continue;
            }
            next += every;
            let statements = progress.statements.load(Ordering::Relaxed);
            let requests = progress.requests.load(Ordering::Relaxed);
            let span = at - last_at;
            let interval = Interval {
                at,
                statements_per_s: ((statements - last_statements) as f64 / span).round(),
                requests_per_s: ((requests - last_requests) as f64 / span * 10.0).round() / 10.0,
            };
            eprintln!(
                "[{at:7.1} s] {statements} statements, {requests} requests; last {span:.1} s: {} statements/s, {} requests/s",
                interval.statements_per_s, interval.requests_per_s
            );
            intervals.push(interval);
            (last_at, last_statements, last_requests) = (at, statements, requests);
        }
        intervals
    })
}

/// Runs `work` while measuring this process's CPU time, the machine's, and the server's
/// CPU time and memory (when its pid is given).
fn measure(common: &Common, progress: Arc<Progress>, work: impl FnOnce()) -> Result<Measured> {
    let sampler = common.server_pid.map(|pid| MemorySampler::start(pid, Duration::from_millis(250)));
    let server_before = common.server_pid.map(|pid| CpuTimes::of(Some(pid))).transpose()?;
    let threads_before = common.server_pid.and_then(|pid| procfs::thread_cpu(pid).ok());
    let load_before = CpuTimes::of(None)?;
    let machine_before = MachineCpu::now().ok();
    let printer = spawn_progress(progress.clone(), common.progress);
    let started = Instant::now();
    work();
    let elapsed = started.elapsed();
    let load_cpu = CpuTimes::of(None)?.since(&load_before);
    let machine_busy_percent =
        machine_before.and_then(|before| MachineCpu::now().ok().map(|now| now.busy_percent_since(&before)));
    let server_cpu = match (common.server_pid, server_before) {
        (Some(pid), Some(before)) => Some(CpuTimes::of(Some(pid))?.since(&before)),
        _ => None,
    };
    let server_threads = match (common.server_pid, &threads_before) {
        (Some(pid), Some(before)) => {
            procfs::thread_cpu(pid).ok().map(|after| procfs::thread_cpu_delta(before, &after))
        }
        _ => None,
    };
    progress.done.store(true, Ordering::Relaxed);
    let timeline = printer.join().unwrap_or_default();
    Ok(Measured {
        elapsed,
        load_cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        machine_busy_percent,
        server_cpu,
        server_memory: sampler.map(MemorySampler::finish),
        server_threads,
        timeline,
    })
}

fn finish(report: Report, json_file: Option<&PathBuf>) -> Result<()> {
    print!("{}", report.to_text());
    if let Some(path) = json_file {
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn write(args: WriteArgs) -> Result<()> {
    let common = &args.common;
    if args.batch == 0 || common.concurrency == 0 {
        bail!("--batch and --concurrency must be at least 1");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of requests per second");
    }
    let generator = Generator { actors: common.actors, activities: common.activities };
    let url = format!("{}/statements", common.url.trim_end_matches('/'));
    let progress = Arc::new(Progress::default());
    let next = AtomicU64::new(0);
    let results: Mutex<(Vec<Duration>, Errors)> = Mutex::default();
    let measured = measure(common, progress.clone(), || {
        let started = Instant::now();
        let bounds = Bounds::of(common, started);
        std::thread::scope(|scope| {
            for _ in 0..common.concurrency {
                let (next, results, progress, bounds, generator, url) =
                    (&next, &results, &progress, &bounds, &generator, &url);
                scope.spawn(move || {
                    let client = Client::new(common);
                    let (mut latencies, mut errors) = (Vec::new(), Errors::default());
                    while !bounds.expired() {
                        let first = next.fetch_add(args.batch as u64, Ordering::Relaxed);
                        if first >= bounds.count {
                            break;
                        }
                        let end = (first + args.batch as u64).min(bounds.count);
                        let body = generator.body(args.start + first..args.start + end);
                        let sent = match args.rate {
                            Some(rate) => {
                                let request = first / args.batch as u64;
                                let due = started + Duration::from_secs_f64(request as f64 / rate);
                                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                                due
                            }
                            None => Instant::now(),
                        };
                        let status = client.post(url, &body);
                        latencies.push(sent.elapsed());
                        errors.record(status);
                        if status == Some(200) {
                            progress.statements.fetch_add(end - first, Ordering::Relaxed);
                        }
                        progress.requests.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut all = results.lock().unwrap();
                    all.0.extend(latencies);
                    all.1.merge(&errors);
                });
            }
        });
    })?;
    let (latencies, errors) = results.into_inner().unwrap();
    let sent = next.load(Ordering::Relaxed).min(Bounds::of(common, Instant::now()).count);
    let report = Report {
        mode: "write",
        config: json!({
            "url": common.url,
            "batch": args.batch,
            "concurrency": common.concurrency,
            "count": common.count,
            "duration_s": common.duration,
            "start": args.start,
            "rate": args.rate,
            "next_start": args.start + sent,
            "actors": common.actors,
            "activities": common.activities,
            "xapi_version": common.xapi_version,
        }),
        statements: Some(progress.statements.load(Ordering::Relaxed)),
        all: KindStats { latencies: Latencies::from_samples(latencies), errors, empty: 0 },
        kinds: Vec::new(),
        measured,
    };
    finish(report, common.json.as_ref())
}

/// Latencies, errors and empty answers of one query kind, as one client gathers them.
#[derive(Default)]
struct KindSamples {
    latencies: Vec<Duration>,
    errors: Errors,
    empty: u64,
}

fn read(args: ReadArgs) -> Result<()> {
    let common = &args.common;
    if args.loaded == 0 || common.concurrency == 0 {
        bail!("--loaded and --concurrency must be at least 1");
    }
    let kinds: Vec<QueryKind> =
        if args.queries.is_empty() { QueryKind::ALL.to_vec() } else { args.queries.clone() };
    let generator = Generator { actors: common.actors, activities: common.activities };
    let base = common.url.trim_end_matches('/').to_string();
    let statements_url = format!("{base}/statements");
    let range = if kinds.iter().any(|k| k.needs_stored_range()) {
        Some(stored_range(&Client::new(common), &statements_url)?)
    } else {
        None
    };
    if let Some(r) = range {
        eprintln!("stored range: {} .. {}", r.first.to_rfc3339(), r.last.to_rfc3339());
    }
    let progress = Arc::new(Progress::default());
    let issued = AtomicU64::new(0);
    let operations = AtomicU64::new(0);
    let results: Mutex<BTreeMap<QueryKind, KindSamples>> = Mutex::default();
    let measured = measure(common, progress.clone(), || {
        let bounds = Bounds::of(common, Instant::now());
        std::thread::scope(|scope| {
            for worker in 0..common.concurrency {
                let (issued, operations, results, progress, bounds, generator, kinds) =
                    (&issued, &operations, &results, &progress, &bounds, &generator, &kinds);
                let (args, base, statements_url) = (&args, &base, &statements_url);
                scope.spawn(move || {
                    let client = Client::new(common);
                    let mut rng = Rng::new(args.seed.wrapping_mul(0x1000_0001).wrapping_add(worker as u64));
                    let mut mine: BTreeMap<QueryKind, KindSamples> = BTreeMap::new();
                    let mut request = |kind: QueryKind, url: &str| -> Option<String> {
                        let sent = Instant::now();
                        let answer = client.get(url);
                        let samples = mine.entry(kind).or_default();
                        samples.latencies.push(sent.elapsed());
                        samples.errors.record(answer.as_ref().map(|a| a.0));
                        progress.requests.fetch_add(1, Ordering::Relaxed);
                        match answer {
                            Some((200, body)) => {
                                if queries::is_empty_result(&body) {
                                    samples.empty += 1;
                                }
                                Some(body)
                            }
                            _ => None,
                        }
                    };
                    while !bounds.expired() && issued.load(Ordering::Relaxed) < bounds.count {
                        let op = operations.fetch_add(1, Ordering::Relaxed);
                        let kind = kinds[(op % kinds.len() as u64) as usize];
                        let facts = generator.facts(rng.below(args.loaded));
                        let query = queries::query_string(kind, &facts, range, rng.fraction(), args.limit);
                        let first_kind = if kind == QueryKind::More { QueryKind::Verb } else { kind };
                        issued.fetch_add(1, Ordering::Relaxed);
                        let mut body = request(first_kind, &format!("{statements_url}?{query}"));
                        if kind == QueryKind::More {
                            for _ in 0..args.pages {
                                let Some(link) = body.as_deref().and_then(queries::more_link) else { break };
                                if bounds.expired() || issued.fetch_add(1, Ordering::Relaxed) >= bounds.count
                                {
                                    break;
                                }
                                body = request(QueryKind::More, &queries::resolve(base, &link));
                            }
                        }
                    }
                    let mut all = results.lock().unwrap();
                    for (kind, samples) in mine {
                        let into = all.entry(kind).or_default();
                        into.latencies.extend(samples.latencies);
                        into.errors.merge(&samples.errors);
                        into.empty += samples.empty;
                    }
                });
            }
        });
    })?;
    let results = results.into_inner().unwrap();
    let mut all = KindStats::default();
    let mut all_latencies = Vec::new();
    let mut per_kind = Vec::new();
    // In the order asked for, `verb` first when `more` brought it along.
    let mut order: Vec<QueryKind> = kinds.clone();
    if kinds.contains(&QueryKind::More) && !kinds.contains(&QueryKind::Verb) {
        order.insert(0, QueryKind::Verb);
    }
    for kind in order {
        let Some(samples) = results.get(&kind) else { continue };
        all_latencies.extend(samples.latencies.iter().copied());
        all.errors.merge(&samples.errors);
        all.empty += samples.empty;
        per_kind.push((
            kind.name().to_string(),
            KindStats {
                latencies: Latencies::from_samples(samples.latencies.iter().copied()),
                errors: samples.errors.clone(),
                empty: samples.empty,
            },
        ));
    }
    all.latencies = Latencies::from_samples(all_latencies);
    let report = Report {
        mode: "read",
        config: json!({
            "url": common.url,
            "concurrency": common.concurrency,
            "count": common.count,
            "duration_s": common.duration,
            "loaded": args.loaded,
            "queries": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "limit": args.limit,
            "pages": args.pages,
            "seed": args.seed,
            "actors": common.actors,
            "activities": common.activities,
            "xapi_version": common.xapi_version,
            "stored_range": range.map(|r| json!([r.first.to_rfc3339(), r.last.to_rfc3339()])),
        }),
        statements: None,
        all,
        kinds: per_kind,
        measured,
    };
    finish(report, common.json.as_ref())
}

/// The `stored` times of the oldest and newest statements, for since/until queries.
fn stored_range(client: &Client, statements_url: &str) -> Result<StoredRange> {
    let stored = |query: &str| -> Result<xapi::Timestamp> {
        let url = format!("{statements_url}?{query}");
        let (status, body) = client.get(&url).with_context(|| format!("no answer from {url}"))?;
        if status != 200 {
            bail!("GET {url} answered {status}: {body}");
        }
        queries::first_stored(&body).with_context(|| format!("the store is empty ({url})"))
    };
    Ok(StoredRange { first: stored("limit=1&ascending=true")?, last: stored("limit=1")? })
}
