//! Latency statistics.

use std::time::Duration;

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

    pub fn count(&self) -> usize {
        self.sorted_micros.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let l = Latencies::from_samples((1..=100).rev().map(Duration::from_millis));
        assert_eq!(l.percentile(50.0), Duration::from_millis(50));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(100.0), Duration::from_millis(100));
        assert_eq!(l.max(), Duration::from_millis(100));
        assert_eq!(l.count(), 100);
    }

    #[test]
    fn no_samples_give_zeroes() {
        let l = Latencies::from_samples([]);
        assert_eq!(l.percentile(99.0), Duration::ZERO);
    }
}
