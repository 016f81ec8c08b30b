//! The production backend: PostgreSQL through tokio-postgres and a deadpool pool.
//!
//! Writers to a store serialise on a transaction-scoped advisory lock, taken before the
//! sequence numbers and `stored` time are assigned and released by the commit. So the
//! ingest sequence is the commit order, on any number of server processes, and a reader
//! sees every statement up to the store's committed head.
//!
//! A hot standby (a streaming replica) is opened read-only: no migrations, no writer,
//! read-only sessions; its schema must already hold this binary's migrations.

mod attachments;
mod audit;
mod connectors;
mod copy;
mod credentials;
mod documents;
mod erasure;
mod forwarding;
mod health;
mod insights;
mod statements;
mod tls;
mod tx;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use self::statements::PgWriter;
use crate::StoreError;
use crate::commit::Committer;

/// Forward-only migrations, applied in order at start-up.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_statements.sql")),
    (2, include_str!("migrations/0002_documents_and_activities.sql")),
    (3, include_str!("migrations/0003_attachments.sql")),
    (4, include_str!("migrations/0004_tenants.sql")),
    (5, include_str!("migrations/0005_insights.sql")),
    (6, include_str!("migrations/0006_content_revisions.sql")),
    (7, include_str!("migrations/0007_one_index_row_per_value.sql")),
    (8, include_str!("migrations/0008_ticket_coverage.sql")),
    (9, include_str!("migrations/0009_video_length.sql")),
    (10, include_str!("migrations/0010_daily_actors_without_verb.sql")),
    (11, include_str!("migrations/0011_pull_cursors.sql")),
    (12, include_str!("migrations/0012_forwarding.sql")),
    (13, include_str!("migrations/0013_audit_log.sql")),
    (14, include_str!("migrations/0014_erasure_and_retention.sql")),
    (15, include_str!("migrations/0015_connectors.sql")),
    (16, include_str!("migrations/0016_forwarding_secrets.sql")),
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
    /// The statement writer; `None` when the store was opened read-only.
    committer: Option<Committer>,
    lock_namespace: i64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .field("read_only", &self.is_read_only())
            .finish()
    }
}

/// How [`PgStore::open`] treats the database it connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opening {
    /// Migrate, then read and write; a hot standby is refused.
    Writable,
    /// Never migrate or write, and run every session read-only; the schema must already
    /// hold every migration this binary knows.
    ReadOnly,
    /// `Writable` on a primary, `ReadOnly` on a hot standby.
    AsFound,
}

impl PgStore {
    /// Connects, applies pending migrations and starts the writer. Must be called inside a
    /// tokio runtime. The URL is a libpq-style `postgres://` URL. A hot standby (a
    /// streaming replica) is refused: it can be neither migrated nor written.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::open(url, Opening::Writable).await
    }

    /// Connects without migrating or starting the writer, for readers of a read replica:
    /// every session is read-only, and the database must already hold every migration
    /// this binary knows (a newer schema is read with a warning: migrations only go
    /// forward). Writes fail.
    pub async fn connect_read_only(url: &str) -> Result<PgStore, StoreError> {
        Self::open(url, Opening::ReadOnly).await
    }

    /// Connects as [`PgStore::connect`] does to a primary, and as
    /// [`PgStore::connect_read_only`] does to a hot standby (`pg_is_in_recovery()`).
    pub async fn connect_detecting_standby(url: &str) -> Result<PgStore, StoreError> {
        Self::open(url, Opening::AsFound).await
    }

    /// Whether the store was opened read-only (see [`PgStore::connect_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.committer.is_none()
    }

    async fn open(url: &str, opening: Opening) -> Result<PgStore, StoreError> {
        let pool = pool(url, opening == Opening::ReadOnly)?;
        let mut client = pool.get().await?;
        let read_only = match opening {
            Opening::ReadOnly => true,
            Opening::Writable | Opening::AsFound => {
                let standby: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await?.get(0);
                if standby && opening == Opening::Writable {
                    return Err(StoreError::Backend(
                        "the database is a read-only hot standby (pg_is_in_recovery() is true): it can \
                         be neither migrated nor written; connect to the primary, or open it read-only"
                            .into(),
                    ));
                }
                standby
            }
        };
        if read_only {
            check_schema(&client).await?;
        } else {
            migrate(&mut client).await?;
        }
        let lock_namespace: i64 = client
            .query_one("SELECT value::bigint FROM tally_meta WHERE key = 'lock_namespace'", &[])
            .await?
            .get(0);
        drop(client);
        let committer =
            (!read_only).then(|| Committer::spawn(PgWriter { pool: pool.clone(), lock_namespace }));
        Ok(PgStore { pool, committer, lock_namespace })
    }
}

/// The connection pool for `url`; with `read_only_sessions`, every session starts with
/// `default_transaction_read_only`, so even a primary refuses writes through it.
fn pool(url: &str, read_only_sessions: bool) -> Result<Pool, StoreError> {
    let (mut config, tls) = tls::config_and_connector(url)?;
    // Bounded waits while the database is away, so requests get a 503 instead of
    // hanging: connecting (unless the URL says otherwise) and unacknowledged sends.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    if read_only_sessions {
        let options = match config.get_options() {
            Some(given) => format!("{given} -c default_transaction_read_only=on"),
            None => "-c default_transaction_read_only=on".to_string(),
        };
        config.options(&options);
    }
    let manager =
        Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot build the connection pool: {e}")))
}

/// Refuses a database opened read-only whose schema lacks migrations this binary needs:
/// it cannot be migrated from here. A newer schema is only worth a warning, as for
/// `/ready`: migrations only go forward, so older readers keep working.
async fn check_schema(client: &deadpool_postgres::Client) -> Result<(), StoreError> {
    let readiness = health::schema_readiness(client).await?;
    let (held, needed) = (readiness.schema_version, readiness.expected_version);
    if !readiness.migrations_current() {
        return Err(StoreError::Backend(format!(
            "the database holds schema migrations up to {held}, but this binary needs {needed}; \
             it is opened read-only, so it is not migrated here: migrate the primary \
             (`tally migrate`), which its replicas replay"
        )));
    }
    if held > needed {
        tracing::warn!(
            held,
            needed,
            "the database holds newer migrations than this binary knows; reading it anyway"
        );
    }
    Ok(())
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

impl crate::ReadStore for PgStore {}

impl crate::Store for PgStore {}
