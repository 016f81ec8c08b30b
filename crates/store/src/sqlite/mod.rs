//! The embedded backend: SQLite in one directory (`./tally-data/` by default), in WAL mode
//! with `synchronous=FULL`, so a statement is on disk before it is acknowledged.
//!
//! One writer connection, owned by the group-commit task, does every statement write;
//! reads use a small pool of their own connections, which WAL lets run alongside it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;
use xapi::Timestamp;

use crate::commit::{BatchOutcome, Committer, GroupWriter};
use crate::model::{
    Credential, StatementBatch, StatementPage, StatementQuery, StoreId, StoredStatement,
};
use crate::plan::{self, GroupWrite, Head, Known, next_stored};
use crate::query::{filter_keys, page_range, page_sql};
use crate::{CredentialStore, Cursor, StatementReader, StatementWriter, Store, StoreError};

const DATABASE_FILE: &str = "tally.sqlite3";

/// Forward-only migrations, applied in order at start-up.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("migrations/0001_statements.sql"))];

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// The statement writer; absent when the store was opened for administration only.
    committer: Option<Committer>,
    clock: Arc<WriteClock>,
    /// Held for the life of a serving store: one process writes statements to a directory.
    _lock: Option<File>,
}

/// What readers need to know about the writer to answer Consistent-Through.
#[derive(Default)]
struct WriteClock {
    /// A write transaction has assigned its `stored` time and not yet committed.
    in_flight: AtomicBool,
    /// The `stored` time of the last committed write (microseconds).
    last_stored: AtomicI64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` for serving: applies pending
    /// migrations, takes the directory's lock (one process writes statements to a
    /// directory, because sequence numbers and Consistent-Through are kept in memory) and
    /// starts the writer. Must be called inside a tokio runtime.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let lock = File::create(dir.join("tally.lock")).map_err(|e| {
            StoreError::Backend(format!("cannot create lock file in {}: {e}", dir.display()))
        })?;
        lock.try_lock().map_err(|_| {
            StoreError::Unavailable(format!(
                "{} is in use by another Tally server",
                dir.display()
            ))
        })?;
        let (path, writer) = Self::prepare(dir)?;
        let last_stored: i64 = writer.query_row(
            "SELECT COALESCE(MAX(last_stored), 0) FROM stores",
            [],
            |r| r.get(0),
        )?;
        let clock = Arc::new(WriteClock {
            in_flight: AtomicBool::new(false),
            last_stored: AtomicI64::new(last_stored),
        });
        let committer = Committer::spawn(SqliteWriter {
            conn: Arc::new(Mutex::new(writer)),
            clock: clock.clone(),
        });
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                readers: Mutex::new(Vec::new()),
                committer: Some(committer),
                clock,
                _lock: Some(lock),
            }),
        })
    }

    /// Opens the store for administration (credentials, migrations) beside a running
    /// server: everything but statement writes, which are refused.
    pub fn open_for_admin(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let (path, conn) = Self::prepare(dir)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                readers: Mutex::new(vec![conn]),
                committer: None,
                clock: Arc::new(WriteClock::default()),
                _lock: None,
            }),
        })
    }

    /// Connects to the database file and applies pending migrations.
    fn prepare(dir: &Path) -> Result<(PathBuf, Connection), StoreError> {
        let path = dir.join(DATABASE_FILE);
        let mut conn = connect(&path)?;
        migrate(&mut conn)?;
        Ok((path, conn))
    }

    /// Runs `f` on a pooled read connection, off the async threads.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(|_| poisoned())?.pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => connect(&inner.path)?,
            };
            let result = f(&conn);
            inner.readers.lock().map_err(|_| poisoned())?.push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("a connection pool lock was poisoned".into())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
    // before it returns (NORMAL could lose the last commits on power loss).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000;",
    )?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied) VALUES (?1, ?2)",
            params![version, Timestamp::now().as_micros()],
        )?;
        tracing::info!(version, "applied SQLite migration");
    }
    tx.commit()?;
    Ok(())
}

/// The group-commit side of the store: owns the only connection that writes statements.
#[derive(Clone)]
struct SqliteWriter {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<WriteClock>,
}

impl GroupWriter for SqliteWriter {
    async fn write_group(
        &self,
        batches: Vec<StatementBatch>,
    ) -> Result<Vec<BatchOutcome>, StoreError> {
        let conn = self.conn.clone();
        let clock = self.clock.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| poisoned())?;
            clock.in_flight.store(true, Ordering::SeqCst);
            let result = write_group(&mut conn, &batches, &clock);
            clock.in_flight.store(false, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("write task failed: {e}")))?
    }
}

fn write_group(
    conn: &mut Connection,
    batches: &[StatementBatch],
    clock: &WriteClock,
) -> Result<Vec<BatchOutcome>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stored = next_stored(
        Timestamp::now(),
        Timestamp::from_micros(clock.last_stored.load(Ordering::SeqCst)),
    );
    let stores: BTreeSet<StoreId> = batches.iter().map(|b| b.store).collect();
    let mut heads = HashMap::new();
    for store in stores {
        let last_seq: Option<i64> = tx
            .query_row("SELECT last_seq FROM stores WHERE id = ?1", [store], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(last_seq) = last_seq {
            heads.insert(store, Head { last_seq, stored });
        }
    }
    let ids = plan::assign_ids(batches);
    let known = fetch_known(&tx, batches, &ids)?;
    let write = plan::plan_group(batches, &ids, &known, &heads);
    apply(&tx, &write)?;
    tx.commit()?;
    if !write.rows.is_empty() {
        clock
            .last_stored
            .store(stored.as_micros(), Ordering::SeqCst);
    }
    Ok(write.outcomes)
}

/// Reads every stored statement the plan needs (see [`plan::plan_group`]).
fn fetch_known(
    conn: &Connection,
    batches: &[StatementBatch],
    ids: &[Vec<Uuid>],
) -> Result<Vec<Known>, StoreError> {
    let mut by_id = conn.prepare_cached(
        "SELECT seq, id, ref_id, is_voiding, voided_by, body FROM statements WHERE store_id = ?1 AND id = ?2",
    )?;
    let mut referring = conn.prepare_cached(
        "SELECT seq, id, ref_id, is_voiding, voided_by, body FROM statements WHERE store_id = ?1 AND ref_id = ?2",
    )?;
    let mut known: HashMap<(StoreId, Uuid), Known> = HashMap::new();
    let mut wanted = plan::ids_to_look_up(batches, ids);
    // Statements the group names, then the targets of their StatementRefs, transitively.
    while !wanted.is_empty() {
        let mut next = Vec::new();
        for (store, id) in wanted {
            if known.contains_key(&(store, id)) {
                continue;
            }
            if let Some(k) = by_id
                .query_row(params![store, id.as_bytes()], |r| known_row(store, r))
                .optional()?
            {
                if let Some(target) = k.ref_id {
                    next.push((store, target));
                }
                known.insert((store, id), k);
            }
        }
        wanted = next;
    }
    // Stored statements that refer to the group's statements, transitively.
    let mut frontier: Vec<(StoreId, Uuid)> = batches
        .iter()
        .zip(ids)
        .flat_map(|(b, ids)| ids.iter().map(move |id| (b.store, *id)))
        .collect();
    let mut visited: HashSet<(StoreId, Uuid)> = frontier.iter().copied().collect();
    while let Some((store, id)) = frontier.pop() {
        let rows = referring.query_map(params![store, id.as_bytes()], |r| known_row(store, r))?;
        for k in rows {
            let k = k?;
            if visited.insert((store, k.id)) {
                frontier.push((store, k.id));
            }
            known.entry((store, k.id)).or_insert(k);
        }
    }
    Ok(known.into_values().collect())
}

fn known_row(store: StoreId, r: &rusqlite::Row<'_>) -> rusqlite::Result<Known> {
    Ok(Known {
        store,
        seq: r.get(0)?,
        id: uuid_column(r, 1)?,
        ref_id: r
            .get::<_, Option<Vec<u8>>>(2)?
            .and_then(|b| Uuid::from_slice(&b).ok()),
        is_voiding: r.get(3)?,
        voided: r.get::<_, Option<i64>>(4)?.is_some(),
        body: r.get(5)?,
    })
}

fn uuid_column(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let bytes: Vec<u8> = r.get(index)?;
    Uuid::from_slice(&bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// Writes a planned group inside the open transaction.
fn apply(conn: &Connection, write: &GroupWrite) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO statements (store_id, seq, id, stored, ref_id, is_voiding, voided_by, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for row in &write.rows {
        insert.execute(params![
            row.store,
            row.seq,
            row.id.as_bytes(),
            row.stored.as_micros(),
            row.ref_id.as_ref().map(|u| u.as_bytes().to_vec()),
            row.is_voiding,
            row.voided_by,
            row.body,
        ])?;
    }
    let mut index = conn.prepare_cached(
        "INSERT OR IGNORE INTO statement_index (store_id, kind, key, seq) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for row in &write.index_rows {
        index.execute(params![row.store, row.kind, row.key, row.seq])?;
    }
    let mut void = conn
        .prepare_cached("UPDATE statements SET voided_by = ?3 WHERE store_id = ?1 AND seq = ?2 AND voided_by IS NULL")?;
    for v in &write.voidings {
        void.execute(params![v.store, v.target_seq, v.by_seq])?;
    }
    let mut head =
        conn.prepare_cached("UPDATE stores SET last_seq = ?2, last_stored = ?3 WHERE id = ?1")?;
    for (store, (seq, stored)) in &write.heads {
        head.execute(params![store, seq, stored.as_micros()])?;
    }
    Ok(())
}

impl StatementWriter for SqliteStore {
    async fn write_statements(&self, batch: StatementBatch) -> Result<Vec<Uuid>, StoreError> {
        match &self.inner.committer {
            Some(committer) => committer.submit(batch).await,
            None => Err(StoreError::Unavailable(
                "this store was opened for administration only".into(),
            )),
        }
    }
}

impl StatementReader for SqliteStore {
    async fn statement(
        &self,
        store: StoreId,
        id: Uuid,
    ) -> Result<Option<StoredStatement>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, id, stored, body, voided_by FROM statements WHERE store_id = ?1 AND id = ?2",
            )?;
            Ok(stmt.query_row(params![store, id.as_bytes()], stored_statement).optional()?)
        })
        .await
    }

    async fn query_statements(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<StatementPage, StoreError> {
        self.read(move |conn| {
            let bound = match query.cursor {
                Some(cursor) => cursor.bound,
                None => conn
                    .prepare_cached("SELECT last_seq FROM stores WHERE id = ?1")?
                    .query_row([store], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0),
            };
            let mut seq_at = conn.prepare_cached(
                "SELECT seq FROM statements WHERE store_id = ?1 AND stored <= ?2 ORDER BY stored DESC, seq DESC LIMIT 1",
            )?;
            let mut resolve = |t: Timestamp| -> Result<i64, StoreError> {
                Ok(seq_at.query_row(params![store, t.as_micros()], |r| r.get(0)).optional()?.unwrap_or(0))
            };
            let since_seq = query.filter.since.map(&mut resolve).transpose()?;
            let until_seq = query.filter.until.map(&mut resolve).transpose()?;
            let (lo, hi) = page_range(&query, bound, since_seq, until_seq);
            let keys = filter_keys(&query.filter);
            let sql = page_sql(keys.len(), query.ascending, |n| format!("?{n}"));
            let mut values: Vec<i64> = vec![store, lo, hi, bound, query.limit as i64 + 1];
            for (kind, key) in &keys {
                values.extend([i64::from(*kind), *key]);
            }
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut statements: Vec<StoredStatement> =
                stmt.query_map(rusqlite::params_from_iter(values), stored_statement)?.collect::<Result<_, _>>()?;
            let next = if statements.len() > query.limit {
                statements.truncate(query.limit);
                statements.last().map(|last| Cursor { bound, after: last.seq })
            } else {
                None
            };
            Ok(StatementPage { statements, next })
        })
        .await
    }

    async fn consistent_through(&self, _store: StoreId) -> Result<Timestamp, StoreError> {
        let clock = &self.inner.clock;
        let now = Timestamp::now();
        let last = Timestamp::from_micros(clock.last_stored.load(Ordering::SeqCst));
        Ok(crate::plan::consistent_through(
            now,
            clock.in_flight.load(Ordering::SeqCst),
            last,
        ))
    }
}

fn stored_statement(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredStatement> {
    Ok(StoredStatement {
        seq: r.get(0)?,
        id: uuid_column(r, 1)?,
        stored: Timestamp::from_micros(r.get(2)?),
        body: r.get(3)?,
        voided: r.get::<_, Option<i64>>(4)?.is_some(),
    })
}

impl CredentialStore for SqliteStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let key = key.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, store_id, name, scopes, secret_sha256, created, revoked FROM credentials WHERE key = ?1",
            )?;
            Ok(stmt.query_row([key], credential_row).optional()?)
        })
        .await
    }

    async fn create_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.read(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                credential_params(&credential),
            )?;
            if inserted == 0 {
                return Err(StoreError::invalid("key", format!("a credential with key {} exists", credential.key)));
            }
            Ok(())
        })
        .await
    }

    async fn put_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.read(move |conn| {
            conn.execute(
                "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key) DO UPDATE SET store_id = excluded.store_id, \
                 name = excluded.name, scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, \
                 revoked = excluded.revoked",
                credential_params(&credential),
            )?;
            Ok(())
        })
        .await
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, store_id, name, scopes, secret_sha256, created, revoked FROM credentials ORDER BY created, key",
            )?;
            Ok(stmt.query_map([], credential_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.read(move |conn| {
            Ok(conn.execute("UPDATE credentials SET revoked = 1 WHERE key = ?1", [key])? > 0)
        })
        .await
    }
}

fn credential_params(c: &Credential) -> impl rusqlite::Params + '_ {
    use rusqlite::types::Value as Sql;
    rusqlite::params_from_iter([
        Sql::Text(c.key.clone()),
        Sql::Integer(c.store),
        Sql::Text(c.name.clone()),
        Sql::Text(c.scopes.join(" ")),
        Sql::Blob(c.secret_sha256.to_vec()),
        Sql::Integer(c.created.as_micros()),
        Sql::Integer(i64::from(c.revoked)),
    ])
}

fn credential_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Credential> {
    let digest: Vec<u8> = r.get(4)?;
    let scopes: String = r.get(3)?;
    Ok(Credential {
        key: r.get(0)?,
        store: r.get(1)?,
        name: r.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        secret_sha256: digest.try_into().unwrap_or([0; 32]),
        created: Timestamp::from_micros(r.get(5)?),
        revoked: r.get(6)?,
    })
}

impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }
}
