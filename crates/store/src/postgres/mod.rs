//! The production backend: PostgreSQL through tokio-postgres and a deadpool pool.
//!
//! Writers to a store serialise on a transaction-scoped advisory lock, taken before the
//! sequence numbers and `stored` time are assigned and released by the commit. So the
//! ingest sequence is the commit order, on any number of server processes, and a reader
//! sees every statement up to the store's committed head.

mod attachments;
mod credentials;
mod documents;
mod health;
mod insights;
mod statements;

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use self::statements::PgWriter;
use crate::commit::Committer;
use crate::{Store, StoreError};

/// Forward-only migrations, applied in order at start-up.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_statements.sql")),
    (2, include_str!("migrations/0002_documents_and_activities.sql")),
    (3, include_str!("migrations/0003_attachments.sql")),
    (4, include_str!("migrations/0004_tenants.sql")),
    (5, include_str!("migrations/0005_insights.sql")),
    (6, include_str!("migrations/0006_content_revisions.sql")),
];

/// How often a group transaction is retried after a serialization failure or deadlock.
const WRITE_ATTEMPTS: usize = 5;

/// Connections per process.
const POOL_SIZE: usize = 16;

/// How long connecting may take, unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long sent data may stay unacknowledged before the connection counts as broken,
/// unless the URL sets `tcp_user_timeout`.
const TCP_USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Microseconds since the epoch on the database clock: every server process shares it.
const NOW_MICROS: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// The same, rounded up to the next millisecond: the precision of `stored`
/// (see [`plan::next_stored`]).
const NOW_MILLIS_CEIL: &str = "(ceil(extract(epoch FROM clock_timestamp()) * 1000) * 1000)::bigint";

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    committer: Committer,
    lock_namespace: i64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish()
    }
}

impl PgStore {
    /// Connects, applies pending migrations and starts the writer. Must be called inside a
    /// tokio runtime. The URL is a libpq-style `postgres://` URL.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        // Bounded waits while the database is away, so requests get a 503 instead of
        // hanging: connecting (unless the URL says otherwise) and unacknowledged sends.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot build the connection pool: {e}")))?;
        let mut client = pool.get().await?;
        migrate(&mut client).await?;
        let lock_namespace: i64 = client
            .query_one("SELECT value::bigint FROM tally_meta WHERE key = 'lock_namespace'", &[])
            .await?
            .get(0);
        drop(client);
        let committer = Committer::spawn(PgWriter { pool: pool.clone(), lock_namespace });
        Ok(PgStore { pool, committer, lock_namespace })
    }
}

async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // Concurrent starters wait here, before anything is created, instead of applying a
    // migration twice: even `CREATE TABLE IF NOT EXISTS` collides when two sessions run it
    // at once on an empty database (duplicate key in pg_type). The lock is keyed by the
    // schema, so installations in different schemas of one database do not wait for each
    // other, and it is released by the commit (or by the connection closing).
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('tally migrations ' || coalesce(current_schema(), ''))); \
         CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied bigint NOT NULL)",
    )
    .await?;
    let applied: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.batch_execute(sql).await?;
        tx.execute(
            &format!("INSERT INTO schema_migrations (version, applied) VALUES ($1, {NOW_MICROS})"),
            &[version],
        )
        .await?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await?;
    Ok(())
}

impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}
