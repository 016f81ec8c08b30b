//! Readiness and pool state of the PostgreSQL store.

use super::{MIGRATIONS, PgStore};
use crate::StoreError;
use crate::health::{Health, PoolStatus, Readiness};

impl Health for PgStore {
    async fn readiness(&self) -> Result<Readiness, StoreError> {
        let client = self.pool.get().await?;
        schema_readiness(&client).await
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

/// Which migrations the database holds against the ones this binary knows; a database
/// without the migrations table holds none.
pub(super) async fn schema_readiness(client: &tokio_postgres::Client) -> Result<Readiness, StoreError> {
    let expected_version = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    let schema_version =
        match client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => 0,
            Err(e) => return Err(e.into()),
        };
    Ok(Readiness { schema_version, expected_version })
}
