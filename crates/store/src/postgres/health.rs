//! Readiness and pool state of the PostgreSQL store.

use super::{MIGRATIONS, PgStore};
use crate::StoreError;
use crate::health::{Health, PoolStatus, Readiness};

impl Health for PgStore {
    async fn readiness(&self) -> Result<Readiness, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?;
        Ok(Readiness {
            schema_version: row.get(0),
            expected_version: MIGRATIONS.last().map_or(0, |(version, _)| *version),
        })
    }

    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max: Some(status.max_size),
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }
}
