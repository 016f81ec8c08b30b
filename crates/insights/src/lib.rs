//! The query engine: it rolls statements up together with imported support tickets and
//! answers, for each learning goal, whether the content reached people, how it was
//! consumed, whether tickets dropped, and if not, what to change. It reads what the server
//! wrote and never blocks ingest. A library on `xapi` and `store` only: the `/insights` API
//! is `server::insights_api`.
//!
//! - [`tickets`] and [`import`]: streaming CSV/JSON/NDJSON ticket import with helpdesk
//!   presets.
//! - [`rollup`] and [`engine`]: incremental rollups that follow statements in ingest
//!   order, taking voided statements back out.
//! - [`goal`], [`report`] and [`service`]: learning goals and the measure-and-update report;
//!   [`people`] joins actors and requesters into people, [`estimate`] gives rate ratios
//!   with their intervals, [`dropoff`] finds where viewers leave a video, [`diagnosis`]
//!   turns the evidence into what to change.
//! - [`export`]: the rows of the CSV exports (their HTTP face is in `server`).
//! - [`days`]: UTC days and their instants, as rollups and reports count them.
//! - [`demo`]: a deterministic demo data set (statements, tickets, a goal) whose right
//!   answer is known, for tests, demos and the report's own checks.
//! - [`simulate`]: seeded random scenarios that only write files (statements, a ticket
//!   export, a goal), so a checker of their own can work out the right answer from them.

pub mod connectors;
pub mod days;
pub mod demo;
pub mod diagnosis;
pub mod dropoff;
pub mod engine;
pub mod estimate;
pub mod export;
pub mod goal;
pub mod import;
pub mod people;
pub mod report;
mod rng;
pub mod rollup;
pub mod service;
pub mod simulate;
pub mod tickets;
