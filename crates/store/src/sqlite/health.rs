//! Readiness and reader-pool state of the embedded SQLite store.

use super::{MIGRATIONS, SqliteStore};
use crate::StoreError;
use crate::health::{Health, PoolStatus, Readiness};

impl Health for SqliteStore {
    async fn readiness(&self) -> Result<Readiness, StoreError> {
        let schema_version = self
            .with_conn(|conn| {
                Ok(conn
                    .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?)
            })
            .await?;
        Ok(Readiness {
            schema_version,
            expected_version: MIGRATIONS.last().map_or(0, |(version, _)| *version),
        })
    }

    /// The reader connections (the statement writer has one more of its own); the pool
    /// grows on demand, so only idle connections are counted.
    fn pool_status(&self) -> PoolStatus {
        let idle = self.inner.readers.idle();
        PoolStatus { max: None, size: idle, available: idle, waiting: 0 }
    }
}
