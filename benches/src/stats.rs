//! Latency statistics and the counters a run reports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// Latency percentiles of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latencies {
    sorted_micros: Vec<u64>,
}

impl Latencies {
    pub fn from_samples(samples: impl IntoIterator<Item = Duration>) -> Latencies {
        let mut sorted_micros: Vec<u64> = samples.into_iter().map(|d| d.as_micros() as u64).collect();
        sorted_micros.sort_unstable();
        Latencies { sorted_micros }
    }

    /// The `p`-th percentile (nearest rank), `p` in 0..=100.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted_micros.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted_micros.len() as f64).ceil() as usize;
        Duration::from_micros(self.sorted_micros[rank.clamp(1, self.sorted_micros.len()) - 1])
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.sorted_micros.last().copied().unwrap_or(0))
    }

    pub fn mean(&self) -> Duration {
        if self.sorted_micros.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.sorted_micros.iter().sum::<u64>() / self.sorted_micros.len() as u64)
    }

    pub fn count(&self) -> usize {
        self.sorted_micros.len()
    }

    /// `{"p50": …, "p90": …, "p99": …, "max": …, "mean": …}` in milliseconds (3 decimals).
    pub fn to_json_ms(&self) -> Value {
        json!({
            "p50": ms(self.percentile(50.0)),
            "p90": ms(self.percentile(90.0)),
            "p99": ms(self.percentile(99.0)),
            "max": ms(self.max()),
            "mean": ms(self.mean()),
        })
    }

    /// `p50 1.2  p90 3.4  p99 5.6  max 7.8` (milliseconds), for the terminal.
    pub fn line_ms(&self) -> String {
        format!(
            "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }
}

/// A duration in milliseconds, rounded to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// Failed requests by HTTP status; a request that got no answer at all (connection refused,
/// reset, timeout) is counted under `"transport"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Errors {
    by_status: BTreeMap<u16, u64>,
    transport: u64,
}

impl Errors {
    /// Records an outcome; `None` is a transport failure. Only non-2xx statuses count.
    pub fn record(&mut self, status: Option<u16>) {
        match status {
            Some(s) if (200..300).contains(&s) => {}
            Some(s) => *self.by_status.entry(s).or_default() += 1,
            None => self.transport += 1,
        }
    }

    pub fn merge(&mut self, other: &Errors) {
        for (s, n) in &other.by_status {
            *self.by_status.entry(*s).or_default() += n;
        }
        self.transport += other.transport;
    }

    pub fn total(&self) -> u64 {
        self.by_status.values().sum::<u64>() + self.transport
    }

    /// `{"409": 2, "transport": 1}`: only what occurred.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (s, n) in &self.by_status {
            map.insert(s.to_string(), json!(n));
        }
        if self.transport > 0 {
            map.insert("transport".into(), json!(self.transport));
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.total() == 0 {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .by_status
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .chain((self.transport > 0).then(|| format!("transport: {}", self.transport)))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l = Latencies::from_samples((1..=100).rev().map(Duration::from_millis));
        assert_eq!(l.percentile(50.0), Duration::from_millis(50));
        assert_eq!(l.percentile(90.0), Duration::from_millis(90));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(100.0), Duration::from_millis(100));
        assert_eq!(l.percentile(0.0), Duration::from_millis(1));
        assert_eq!(l.max(), Duration::from_millis(100));
        assert_eq!(l.mean(), Duration::from_micros(50_500));
        assert_eq!(l.count(), 100);
    }

    #[test]
    fn a_small_sample_rounds_up_to_a_real_value() {
        let l = Latencies::from_samples([3, 1, 2].map(Duration::from_millis));
        assert_eq!(l.percentile(50.0), Duration::from_millis(2));
        assert_eq!(l.percentile(99.0), Duration::from_millis(3));
    }

    #[test]
    fn no_samples_give_zeroes() {
        let l = Latencies::from_samples([]);
        assert_eq!(l.percentile(99.0), Duration::ZERO);
        assert_eq!(l.mean(), Duration::ZERO);
        assert_eq!(l.to_json_ms()["p99"], json!(0.0));
    }

    #[test]
    fn latencies_serialise_in_milliseconds() {
        let l = Latencies::from_samples([Duration::from_micros(1_500), Duration::from_micros(2_250)]);
        assert_eq!(
            l.to_json_ms(),
            json!({ "p50": 1.5, "p90": 2.25, "p99": 2.25, "max": 2.25, "mean": 1.875 })
        );
        assert_eq!(l.line_ms(), "p50 1.5  p90 2.2  p99 2.2  max 2.2");
    }

    #[test]
    fn errors_count_non_success_statuses_and_transport_failures() {
        let mut e = Errors::default();
        for status in [Some(200), Some(204), Some(503), Some(503), Some(409), None] {
            e.record(status);
        }
        let mut other = Errors::default();
        other.record(Some(409));
        e.merge(&other);
        assert_eq!(e.total(), 5);
        assert_eq!(e.to_json(), json!({ "409": 2, "503": 2, "transport": 1 }));
        assert_eq!(e.to_string(), "409: 2, 503: 2, transport: 1");
        assert_eq!(Errors::default().to_string(), "none");
    }
}
