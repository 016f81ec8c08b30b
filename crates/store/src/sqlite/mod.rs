//! The embedded backend: SQLite in one directory (`./tally-data/` by default), in WAL mode
//! with `synchronous=FULL`, so a statement is on disk before it is acknowledged.
//!
//! One writer connection, owned by the group-commit task, does every statement write;
//! reads use a small pool of their own connections, which WAL lets run alongside it.
//!
//! The rollups live in a second file, `rollups.sqlite3`, with a pool of readers and one
//! writer of its own: SQLite has one write lock per file, so the rollup engine's steps never
//! hold the lock statement groups need, nor wait for it. No query reads both files. The
//! rollups are derived data: their file commits without an fsync (a power loss may take the
//! last steps back, watermark and rows together), and a lost file is rebuilt from the
//! statements.

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
mod tx;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, TransactionBehavior, params};
use xapi::Timestamp;

use self::statements::SqliteWriter;
use crate::StoreError;
use crate::commit::Committer;

const DATABASE_FILE: &str = "tally.sqlite3";

/// The rollups' file, beside the database file.
const ROLLUPS_FILE: &str = "rollups.sqlite3";

/// Page cache of the statement writer, in KiB (SQLite's default is 2,000 KiB). Each
/// statement adds about seven index rows at random places of `statement_index`; with the
/// default cache most of them read their B-tree page back from the OS first. Measured:
/// 18–26% more batched ingest (benches/RESULTS.md).
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// How often the WAL is copied back into the database file, by a thread of its own beside
/// the statement writer. SQLite's own checkpoint runs inside the commit that crosses 1,000
/// WAL pages, so that commit waits for it; and index pages modified again and again between
/// checkpoints are written back once per checkpoint, so checkpoints a second apart write
/// less than every 4 MiB. Measured on batched SQLite ingest: see benches/RESULTS.md.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The writer's own checkpoint threshold, in WAL pages (256 MiB): only a backstop, should
/// the checkpoint thread fall behind.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 65_536;

/// How long `open` waits for another process to release the data directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

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
    (11, include_str!("migrations/0011_rollups_in_their_own_file.sql")),
    (12, include_str!("migrations/0012_pull_cursors.sql")),
    (13, include_str!("migrations/0013_forwarding.sql")),
    (14, include_str!("migrations/0014_audit_log.sql")),
    (15, include_str!("migrations/0015_erasure_and_retention.sql")),
    (16, include_str!("migrations/0016_connectors.sql")),
    (17, include_str!("migrations/0017_forwarding_secrets.sql")),
];

/// Forward-only migrations of the rollups' file, applied before the database file's.
const ROLLUP_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/rollups/0001_rollups.sql")),
    (2, include_str!("migrations/rollups/0002_epoch.sql")),
];

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Connections to the database file, beside the statement writer's.
    readers: Pool,
    /// Connections to the rollups' file that read.
    rollup_readers: Pool,
    /// The one connection that writes rollup steps; opened by the first step.
    rollup_writer: Mutex<Option<Connection>>,
    /// The statement writer; absent when the store was opened for administration only.
    committer: Option<Committer>,
    clock: Arc<WriteClock>,
    /// Copies the WAL back while the store serves; stops when the store is dropped.
    _checkpointer: Option<Checkpointer>,
    /// Held for the life of a serving store: one process writes statements to a directory.
    _lock: Option<File>,
}

/// What readers need to know about the writer to answer Consistent-Through.
#[derive(Default)]
pub(crate) struct WriteClock {
    /// A write transaction has assigned its `stored` time and not yet committed.
    in_flight: AtomicBool,
    /// The `stored` time of the last committed write (microseconds).
    last_stored: AtomicI64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.readers.path).finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` for serving: applies pending
    /// migrations, takes the directory's lock (one process writes statements to a
    /// directory, because sequence numbers and Consistent-Through are kept in memory) and
    /// starts the writer. Must be called inside a tokio runtime.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!("cannot create data directory {}: {e}", dir.display()))
        })?;
        let lock = File::create(dir.join("tally.lock"))
            .map_err(|e| StoreError::Backend(format!("cannot create lock file in {}: {e}", dir.display())))?;
        // A server that is still shutting down may hold it for a moment.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        while lock.try_lock().is_err() {
            if std::time::Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "{} is in use by another Tally server",
                    dir.display()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (path, rollups_path, writer) = Self::prepare(dir)?;
        writer.execute_batch(&format!(
            "PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}"
        ))?;
        let checkpointer = Checkpointer::spawn(&path)?;
        let last_stored: i64 =
            writer.query_row("SELECT COALESCE(MAX(last_stored), 0) FROM stores", [], |r| r.get(0))?;
        let clock = Arc::new(WriteClock {
            in_flight: AtomicBool::new(false),
            last_stored: AtomicI64::new(last_stored),
        });
        let committer =
            Committer::spawn(SqliteWriter { conn: Arc::new(Mutex::new(writer)), clock: clock.clone() });
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: Pool::new(&path, connect, Vec::new()),
                rollup_readers: Pool::new(&rollups_path, connect_rollups, Vec::new()),
                rollup_writer: Mutex::new(None),
                committer: Some(committer),
                clock,
                _checkpointer: Some(checkpointer),
                _lock: Some(lock),
            }),
        })
    }

    /// Opens the store for administration (credentials, migrations) beside a running
    /// server: everything but statement writes, which are refused.
    pub fn open_for_admin(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!("cannot create data directory {}: {e}", dir.display()))
        })?;
        let (path, rollups_path, conn) = Self::prepare(dir)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers: Pool::new(&path, connect, vec![conn]),
                rollup_readers: Pool::new(&rollups_path, connect_rollups, Vec::new()),
                rollup_writer: Mutex::new(None),
                committer: None,
                clock: Arc::new(WriteClock::default()),
                _checkpointer: None,
                _lock: None,
            }),
        })
    }

    /// Applies pending migrations to the rollups' file, then to the database file (whose
    /// migration 11 moves its rollups into the other, attached as `rollups` for it), and
    /// answers both paths and a connection to the database file.
    fn prepare(dir: &Path) -> Result<(PathBuf, PathBuf, Connection), StoreError> {
        let (path, rollups_path) = (dir.join(DATABASE_FILE), dir.join(ROLLUPS_FILE));
        migrate(&mut connect_rollups(&rollups_path)?, ROLLUP_MIGRATIONS)?;
        let mut conn = connect(&path)?;
        let rollups = rollups_path.to_str().ok_or_else(|| {
            StoreError::Backend(format!("the data directory's path is not UTF-8: {}", rollups_path.display()))
        })?;
        conn.execute("ATTACH DATABASE ?1 AS rollups", [rollups])?;
        migrate(&mut conn, MIGRATIONS)?;
        // A transaction begun IMMEDIATE takes the write lock of every attached file.
        conn.execute_batch("DETACH DATABASE rollups")?;
        Ok((path, rollups_path, conn))
    }

    /// Runs `f` on a pooled connection (not the statement writer's), off the async
    /// threads. WAL lets it read beside the writer; a write waits for its turn.
    pub(crate) async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.off_thread(move |inner| inner.readers.run(f)).await
    }

    /// Runs `f` on a pooled connection to the rollups' file, off the async threads.
    pub(crate) async fn with_rollups<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.off_thread(move |inner| inner.rollup_readers.run(f)).await
    }

    /// Runs `f` on the rollup writer's connection (to the rollups' file alone), off the
    /// async threads.
    pub(crate) async fn with_rollup_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.off_thread(move |inner| {
            let mut writer = inner.rollup_writer.lock().map_err(|_| poisoned())?;
            let conn = match writer.take() {
                Some(conn) => conn,
                None => connect_rollups(&inner.rollup_readers.path)?,
            };
            let result = f(&conn);
            *writer = Some(conn);
            result
        })
        .await
    }

    /// Runs blocking `job` on tokio's blocking threads.
    async fn off_thread<T, J>(&self, job: J) -> Result<T, StoreError>
    where
        T: Send + 'static,
        J: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || job(&inner))
            .await
            .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
    }
}

/// Connections to one file, opened on demand and kept for reuse.
struct Pool {
    path: PathBuf,
    open: fn(&Path) -> Result<Connection, StoreError>,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn new(path: &Path, open: fn(&Path) -> Result<Connection, StoreError>, idle: Vec<Connection>) -> Pool {
        Pool { path: path.to_path_buf(), open, idle: Mutex::new(idle) }
    }

    /// Runs `f` on an idle connection, or a new one; blocks.
    fn run<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.idle.lock().map_err(|_| poisoned())?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => (self.open)(&self.path)?,
        };
        let result = f(&conn);
        self.idle.lock().map_err(|_| poisoned())?.push(conn);
        result
    }

    fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }
}

/// The thread that checkpoints the database file's WAL every [`CHECKPOINT_INTERVAL`], on a
/// connection of its own. A passive checkpoint never blocks the writer or readers; it copies
/// what no reader still needs. Dropping this ends the thread. (The rollups' file is left to
/// SQLite's own checkpoints, done by the rollup writer on the engine's low-priority thread.)
struct Checkpointer {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = connect(path)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(%error, "WAL checkpoint failed; the writer's own threshold still applies");
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

pub(crate) fn poisoned() -> StoreError {
    StoreError::Backend("a connection pool lock was poisoned".into())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
    // before it returns (NORMAL could lose the last commits on power loss).
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.busy_handler(Some(wait_for_the_write_lock))?;
    Ok(conn)
}

/// A connection to the rollups' file alone. WAL as for the database file, but
/// synchronous=NORMAL: a rollup commit is not flushed to disk, so a power loss may take the
/// last steps back (each with its watermark, never half of one), and the engine does them
/// again.
fn connect_rollups(rollups_path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(rollups_path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    conn.busy_handler(Some(wait_for_the_write_lock))?;
    Ok(conn)
}

/// How a connection waits for another's write transaction: it tries again every 100 µs for
/// the first 0.1 s, then every millisecond, and gives up after about 5 s. SQLite's own
/// `busy_timeout` sleeps 1, 2, 5, 10, … up to 100 ms between tries, so a statement group
/// waiting behind a rollup step that holds the lock for 2 ms could sleep 8 ms (measured:
/// the single-statement p99 beside the engine fell from 31.7/29.6 to 24.0/22.9 ms,
/// benches/RESULTS.md).
fn wait_for_the_write_lock(attempts: i32) -> bool {
    const FINE_TRIES: i32 = 1_000;
    match attempts {
        0..FINE_TRIES => std::thread::sleep(std::time::Duration::from_micros(100)),
        FINE_TRIES..5_900 => std::thread::sleep(std::time::Duration::from_millis(1)),
        _ => return false,
    }
    true
}

fn migrate(conn: &mut Connection, migrations: &[(i64, &str)]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    for (version, sql) in migrations.iter().filter(|(v, _)| *v > applied) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied) VALUES (?1, ?2)",
            params![version, Timestamp::now().as_micros()],
        )?;
        tracing::info!(version, file = tx.path().unwrap_or_default(), "applied SQLite migration");
    }
    tx.commit()?;
    Ok(())
}

impl crate::ReadStore for SqliteStore {}

impl crate::Store for SqliteStore {}
