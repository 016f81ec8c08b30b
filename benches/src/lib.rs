//! Realistic xAPI statements for load tests, and latency statistics.

pub mod generator;
pub mod stats;
