//! Realistic xAPI statements for load tests, the queries that read them back, latency
//! statistics, process measurements from `/proc`, and the report of a `tally-load` run.

pub mod generator;
pub mod procfs;
pub mod queries;
pub mod report;
pub mod stats;
