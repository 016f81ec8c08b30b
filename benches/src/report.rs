//! What a `tally-load` run reports, on the terminal and as JSON (`--json FILE`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::procfs::{CpuTimes, round1, round3};
use crate::stats::{Errors, Latencies};

/// The requests of one kind (a query kind in read mode; everything in write mode).
#[derive(Clone, Debug, Default)]
pub struct KindStats {
    pub latencies: Latencies,
    pub errors: Errors,
    /// Successful answers that held no statement (a read that found nothing: the query
    /// values are meant to exist, so this should stay 0).
    pub empty: u64,
}

/// Throughput over one progress interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Seconds since the start, at the end of the interval.
    pub at: f64,
    pub statements_per_s: f64,
    pub requests_per_s: f64,
}

/// One run's figures.
#[derive(Clone, Debug)]
pub struct Report {
    /// `"write"` or `"read"`.
    pub mode: &'static str,
    /// The options the run was given.
    pub config: Value,
    /// Statements acknowledged (write mode).
    pub statements: Option<u64>,
    /// Every request sent, failed ones included.
    pub all: KindStats,
    /// Per query kind, in the order they were asked for (read mode).
    pub kinds: Vec<(String, KindStats)>,
    pub measured: Measured,
}

/// What the measurement around a run collected.
#[derive(Clone, Debug)]
pub struct Measured {
    pub elapsed: Duration,
    /// The generator's own CPU time over the run.
    pub load_cpu: CpuTimes,
    pub cores: usize,
    /// The whole machine's busy share over the run (`None` where /proc/stat is missing).
    pub machine_busy_percent: Option<f64>,
    /// The server's CPU time over the run, when its pid was given.
    pub server_cpu: Option<CpuTimes>,
    /// The server's memory samples ([`crate::procfs::MemorySampler::finish`]).
    pub server_memory: Option<Value>,
    /// CPU seconds per server thread ([`crate::procfs::thread_cpu_delta`]).
    pub server_threads: Option<Value>,
    pub timeline: Vec<Interval>,
}

impl Report {
    fn per_second(&self, n: f64) -> f64 {
        round1(n / self.measured.elapsed.as_secs_f64().max(f64::MIN_POSITIVE))
    }

    pub fn to_json(&self) -> Value {
        let requests = self.all.latencies.count() as f64;
        let mut report = Map::new();
        report.insert("mode".into(), json!(self.mode));
        report.insert("config".into(), self.config.clone());
        report.insert("elapsed_s".into(), json!(round3(self.measured.elapsed.as_secs_f64())));
        if let Some(statements) = self.statements {
            report.insert("statements".into(), json!(statements));
            report.insert("statements_per_s".into(), json!(self.per_second(statements as f64)));
        }
        report.insert("requests".into(), json!(requests as u64));
        report.insert("requests_per_s".into(), json!(self.per_second(requests)));
        report.insert("latency_ms".into(), self.all.latencies.to_json_ms());
        report.insert("errors".into(), self.all.errors.to_json());
        if !self.kinds.is_empty() {
            let kinds: Map<String, Value> = self
                .kinds
                .iter()
                .map(|(name, k)| {
                    let value = json!({
                        "requests": k.latencies.count(),
                        "requests_per_s": self.per_second(k.latencies.count() as f64),
                        "empty": k.empty,
                        "errors": k.errors.to_json(),
                        "latency_ms": k.latencies.to_json_ms(),
                    });
                    (name.clone(), value)
                })
                .collect();
            report.insert("queries".into(), Value::Object(kinds));
        }
        report.insert(
            "load_cpu".into(),
            self.measured.load_cpu.to_json(self.measured.elapsed, self.measured.cores),
        );
        report.insert(
            "machine".into(),
            json!({ "cores": self.measured.cores, "busy_percent": self.measured.machine_busy_percent }),
        );
        if self.measured.server_cpu.is_some() || self.measured.server_memory.is_some() {
            report.insert(
                "server".into(),
                json!({
                    "cpu": self.measured.server_cpu.map(|c| c.to_json(self.measured.elapsed, self.measured.cores)),
                    "memory": self.measured.server_memory,
                    "threads": self.measured.server_threads,
                }),
            );
        }
        if !self.measured.timeline.is_empty() {
            let timeline: Vec<Value> = self
                .measured
                .timeline
                .iter()
                .map(|i| json!({ "at_s": round1(i.at), "statements_per_s": i.statements_per_s, "requests_per_s": i.requests_per_s }))
                .collect();
            report.insert("timeline".into(), Value::Array(timeline));
        }
        Value::Object(report)
    }

    /// The report for a person.
    pub fn to_text(&self) -> String {
        let json = self.to_json();
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("mode: {}  {}", self.mode, self.config));
        line(format!("elapsed: {:.2} s", self.measured.elapsed.as_secs_f64()));
        if let Some(statements) = self.statements {
            line(format!(
                "statements: {statements}  statements/s: {:.0}",
                json["statements_per_s"].as_f64().unwrap_or(0.0)
            ));
        }
        line(format!(
            "requests: {}  requests/s: {:.1}",
            self.all.latencies.count(),
            json["requests_per_s"].as_f64().unwrap_or(0.0)
        ));
        line(format!("latency ms: {}", self.all.latencies.line_ms()));
        line(format!("errors by status: {}", self.all.errors));
        for (name, k) in &self.kinds {
            line(format!(
                "  {name:<20} n {:>6}  {}  empty {}  errors {}",
                k.latencies.count(),
                k.latencies.line_ms(),
                k.empty,
                k.errors
            ));
        }
        let cpu = &json["load_cpu"];
        line(format!(
            "tally-load CPU: user {} s  sys {} s  = {}% of one core, {}% of the machine ({} cores; machine busy {}%)",
            cpu["user_s"],
            cpu["sys_s"],
            cpu["percent_of_wall"],
            cpu["percent_of_machine"],
            self.measured.cores,
            json["machine"]["busy_percent"]
        ));
        if let Some(server) = json.get("server") {
            if let Some(cpu) = server["cpu"].as_object() {
                line(format!(
                    "server CPU: user {} s  sys {} s  = {}% of one core",
                    cpu["user_s"], cpu["sys_s"], cpu["percent_of_wall"]
                ));
            }
            if let Some(threads) = server["threads"].as_array() {
                let busiest: Vec<String> = threads
                    .iter()
                    .take(6)
                    .map(|t| format!("{} {} s", t["name"].as_str().unwrap_or("?"), t["cpu_s"]))
                    .collect();
                line(format!("server threads (busiest): {}", busiest.join(", ")));
            }
            if let Some(memory) = server["memory"].as_object() {
                line(format!(
                    "server memory: RSS max {} MiB (last {} MiB, {} samples), VmHWM {} MiB",
                    memory["rss_mib_max"], memory["rss_mib_last"], memory["samples"], memory["hwm_mib"]
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ms: &[u64], failed: &[Option<u16>]) -> KindStats {
        let mut errors = Errors::default();
        failed.iter().for_each(|s| errors.record(*s));
        KindStats {
            latencies: Latencies::from_samples(ms.iter().map(|m| Duration::from_millis(*m))),
            errors,
            empty: 0,
        }
    }

    fn report() -> Report {
        Report {
            mode: "read",
            config: json!({ "concurrency": 4 }),
            statements: None,
            all: kind(&[1, 2, 3, 4], &[Some(500)]),
            kinds: vec![("verb".into(), kind(&[1, 2], &[])), ("agent".into(), kind(&[3, 4], &[Some(500)]))],
            measured: Measured {
                elapsed: Duration::from_secs(2),
                load_cpu: CpuTimes { user: Duration::from_millis(300), system: Duration::from_millis(100) },
                cores: 2,
                machine_busy_percent: Some(80.0),
                server_cpu: Some(CpuTimes { user: Duration::from_secs(1), system: Duration::ZERO }),
                server_memory: Some(
                    json!({ "pid": 7, "samples": 3, "rss_mib_max": 40.0, "rss_mib_last": 39.0, "hwm_mib": 41.0 }),
                ),
                server_threads: Some(json!([{ "tid": 8, "name": "writer", "cpu_s": 0.9 }])),
                timeline: vec![Interval { at: 1.0, statements_per_s: 0.0, requests_per_s: 2.0 }],
            },
        }
    }

    #[test]
    fn the_json_report_has_throughput_latency_errors_cpu_and_per_query_figures() {
        let json = report().to_json();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "mode",
                "config",
                "elapsed_s",
                "requests",
                "requests_per_s",
                "latency_ms",
                "errors",
                "queries",
                "load_cpu",
                "machine",
                "server",
                "timeline"
            ]
        );
        assert_eq!(json["requests"], json!(4));
        assert_eq!(json["requests_per_s"], json!(2.0));
        assert_eq!(json["latency_ms"]["p50"], json!(2.0));
        assert_eq!(json["errors"], json!({ "500": 1 }));
        assert_eq!(json["queries"]["agent"]["latency_ms"]["max"], json!(4.0));
        assert_eq!(json["queries"]["agent"]["errors"], json!({ "500": 1 }));
        assert_eq!(json["queries"]["verb"]["requests"], json!(2));
        assert_eq!(json["load_cpu"]["percent_of_wall"], json!(20.0));
        assert_eq!(json["load_cpu"]["percent_of_machine"], json!(10.0));
        assert_eq!(json["machine"], json!({ "cores": 2, "busy_percent": 80.0 }));
        assert_eq!(json["server"]["cpu"]["percent_of_wall"], json!(50.0));
        assert_eq!(json["server"]["memory"]["hwm_mib"], json!(41.0));
        assert_eq!(json["server"]["threads"][0]["name"], json!("writer"));
        assert_eq!(json["timeline"][0]["requests_per_s"], json!(2.0));
    }

    #[test]
    fn a_write_report_counts_statements_and_leaves_out_what_it_lacks() {
        let mut r = report();
        r.mode = "write";
        r.statements = Some(1_000);
        r.kinds.clear();
        r.measured.server_cpu = None;
        r.measured.server_memory = None;
        r.measured.server_threads = None;
        r.measured.timeline.clear();
        let json = r.to_json();
        assert_eq!(json["statements"], json!(1_000));
        assert_eq!(json["statements_per_s"], json!(500.0));
        for absent in ["queries", "server", "timeline"] {
            assert!(json.get(absent).is_none(), "{absent}");
        }
        let text = r.to_text();
        assert!(text.contains("statements/s: 500"), "{text}");
        assert!(text.contains("errors by status: 500: 1"), "{text}");
    }
}
