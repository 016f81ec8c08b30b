//! What operators watch: whether the database answers with the schema this binary
//! expects, and how busy the connections to it are (for `/ready` and `/metrics`).

use std::future::Future;

use crate::StoreError;

/// The answer of a database that is reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The newest migration applied to the database.
    pub schema_version: i64,
    /// The newest migration this binary knows.
    pub expected_version: i64,
}

impl Readiness {
    /// Whether every migration this binary knows has been applied (a newer binary may have
    /// applied more; forward-only migrations keep older readers working).
    pub fn migrations_current(&self) -> bool {
        self.schema_version >= self.expected_version
    }
}

/// How the backend's connections are used right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens (`None`: grows on demand).
    pub max: Option<usize>,
    /// Connections open now.
    pub size: usize,
    /// Open connections not in use.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// Health checks every backend answers.
pub trait Health: Send + Sync {
    /// Checks that the database answers, and which migrations it holds.
    fn readiness(&self) -> impl Future<Output = Result<Readiness, StoreError>> + Send;

    /// The connection pool's state; cheap, no I/O.
    fn pool_status(&self) -> PoolStatus;
}
