//! Statements on SQLite: the group writer and the statement queries.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use uuid::Uuid;
use xapi::Timestamp;

use super::{SqliteStore, WriteClock, poisoned};
use crate::commit::{BatchOutcome, Group, GroupWriter};
use crate::model::{
    AttachmentUpload, StatementBatch, StatementPage, StatementQuery, StoreId, StoredStatement,
};
use crate::plan::{self, GroupWrite, Head, HeldDefinitions, Known, next_stored};
use crate::query::{
    FilterKey, filter_keys, finish_page, may_end_walk, page_range, page_sql, page_values, walk_end_sql,
    walk_end_values, walks,
};
use crate::sql::{self, for_sqlite};
use crate::{StatementReader, StatementWriter, StoreError};

/// The group-commit side of the store: owns the only connection that writes statements.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    pub(crate) conn: Arc<Mutex<Connection>>,
    pub(crate) clock: Arc<WriteClock>,
}

impl GroupWriter for SqliteWriter {
    async fn write_group(&self, group: Group) -> Result<Vec<BatchOutcome>, StoreError> {
        let conn = self.conn.clone();
        let clock = self.clock.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let waiting = std::time::Instant::now();
            let mut conn = conn.lock().map_err(|_| poisoned())?;
            clock.in_flight.store(true, Ordering::SeqCst);
            let result = write_group(&mut conn, group, &clock, &span, waiting);
            clock.in_flight.store(false, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("write task failed: {e}")))?
    }
}

fn write_group(
    conn: &mut Connection,
    group: Group,
    clock: &WriteClock,
    span: &tracing::Span,
    waiting: std::time::Instant,
) -> Result<Vec<BatchOutcome>, StoreError> {
    let Group { batches, ids, prepared } = group;
    let batches = batches.as_slice();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // The writer's connection, then SQLite's write lock (held by a rollup step or a
    // document write for a moment).
    span.record("lock_wait_us", waiting.elapsed().as_micros() as u64);
    let stored =
        next_stored(Timestamp::now(), Timestamp::from_micros(clock.last_stored.load(Ordering::SeqCst)));
    let stores: BTreeSet<StoreId> = batches.iter().map(|b| b.store).collect();
    let mut heads = HashMap::new();
    for store in stores {
        let head: Option<(i64, i64)> = tx
            .query_row(&for_sqlite(sql::INGEST_HEAD), [store], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((last_seq, last_stored)) = head {
            heads.insert(store, Head { last_seq, last_stored: Timestamp::from_micros(last_stored), stored });
        }
    }
    let known = fetch_known(&tx, batches, &ids)?;
    let definitions = fetch_definitions(&tx, batches)?;
    let write = plan::plan_group(batches, &ids, prepared, &known, &definitions, &heads);
    apply(&tx, &write)?;
    store_attachments(&tx, &plan::accepted_attachments(batches, &write.outcomes))?;
    let committing = std::time::Instant::now();
    tx.commit()?;
    span.record("commit_us", committing.elapsed().as_micros() as u64);
    // Statements that keep their own `stored` may end earlier than the group's time.
    if let Some(latest) = write.heads.values().map(|(_, stored)| stored.as_micros()).max() {
        clock.last_stored.fetch_max(latest, Ordering::SeqCst);
    }
    Ok(write.outcomes)
}

/// Reads the held definitions of the activities the group defines.
fn fetch_definitions(conn: &Connection, batches: &[StatementBatch]) -> Result<HeldDefinitions, StoreError> {
    let mut select =
        conn.prepare_cached("SELECT definition FROM activities WHERE store_id = ?1 AND activity_id = ?2")?;
    let mut held = HashMap::new();
    for (store, id) in plan::activities_to_look_up(batches) {
        let definition: Option<String> = select.query_row(params![store, id], |r| r.get(0)).optional()?;
        if let Some(Ok(Value::Object(definition))) = definition.map(|d| serde_json::from_str::<Value>(&d)) {
            held.insert((store, id), definition);
        }
    }
    Ok(held)
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
            if let Some(k) =
                by_id.query_row(params![store, id.as_bytes()], |r| known_row(store, r)).optional()?
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
    let mut frontier: Vec<(StoreId, Uuid)> =
        batches.iter().zip(ids).flat_map(|(b, ids)| ids.iter().map(move |id| (b.store, *id))).collect();
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
        ref_id: r.get::<_, Option<Vec<u8>>>(2)?.and_then(|b| Uuid::from_slice(&b).ok()),
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
    let mut index = conn
        .prepare_cached("INSERT INTO statement_index (store_id, key, seq, kinds) VALUES (?1, ?2, ?3, ?4)")?;
    for row in &write.index_rows {
        index.execute(params![row.store, row.key, row.seq, row.kinds])?;
    }
    let mut inherit = conn.prepare_cached(
        "INSERT INTO statement_index (store_id, key, seq, kinds) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (store_id, key, seq) DO UPDATE SET kinds = kinds | excluded.kinds",
    )?;
    for row in &write.inherited_index_rows {
        inherit.execute(params![row.store, row.key, row.seq, row.kinds])?;
    }
    let mut void = conn.prepare_cached(
        "UPDATE statements SET voided_by = ?3 WHERE store_id = ?1 AND seq = ?2 AND voided_by IS NULL",
    )?;
    for v in &write.voidings {
        void.execute(params![v.store, v.target_seq, v.by_seq])?;
    }
    let mut define = conn.prepare_cached(
        "INSERT INTO activities (store_id, activity_id, definition) VALUES (?1, ?2, ?3) \
         ON CONFLICT (store_id, activity_id) DO UPDATE SET definition = excluded.definition",
    )?;
    for d in &write.definitions {
        define.execute(params![d.store, d.activity_id, d.definition])?;
    }
    let mut head = conn.prepare_cached("UPDATE stores SET last_seq = ?2, last_stored = ?3 WHERE id = ?1")?;
    for (store, (seq, stored)) in &write.heads {
        head.execute(params![store, seq, stored.as_micros()])?;
    }
    Ok(())
}

/// Stores the content of accepted attachments that the store does not hold yet.
fn store_attachments(conn: &Connection, uploads: &[(StoreId, &AttachmentUpload)]) -> Result<(), StoreError> {
    let mut describe = conn.prepare_cached(
        "INSERT OR IGNORE INTO attachments (store_id, sha2, content_type, length, chunks) VALUES (?1, ?2, ?3, ?4, 0)",
    )?;
    let mut chunk = conn.prepare_cached(&for_sqlite(sql::ADD_ATTACHMENT_CHUNK))?;
    let mut count = conn.prepare_cached(&for_sqlite(sql::SET_ATTACHMENT_CHUNKS))?;
    for (store, upload) in uploads {
        if describe.execute(params![store, upload.sha2, upload.content_type, upload.length as i64])? == 0 {
            continue; // Already held: content is stored once per hash.
        }
        let mut chunks = 0;
        for piece in upload.content.pieces()? {
            chunk.execute(params![store, upload.sha2, chunks, piece?])?;
            chunks += 1;
        }
        count.execute(params![store, upload.sha2, chunks])?;
    }
    Ok(())
}

impl StatementWriter for SqliteStore {
    async fn write_statements(&self, batch: StatementBatch) -> Result<Vec<Uuid>, StoreError> {
        match &self.inner.committer {
            Some(committer) => committer.submit(batch).await,
            None => Err(StoreError::Unavailable("this store was opened for administration only".into())),
        }
    }
}

impl StatementReader for SqliteStore {
    async fn statement(&self, store: StoreId, id: Uuid) -> Result<Option<StoredStatement>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&for_sqlite(sql::STATEMENT))?;
            Ok(stmt.query_row(params![store, id.as_bytes()], stored_statement).optional()?)
        })
        .await
    }

    async fn query_statements(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<StatementPage, StoreError> {
        self.with_conn(move |conn| {
            let page = page_read(conn, store, &query)?;
            let mut stmt = conn.prepare_cached(&page.sql)?;
            let statements: Vec<StoredStatement> = stmt
                .query_map(rusqlite::params_from_iter(&page.values), stored_statement)?
                .collect::<Result<_, _>>()?;
            let walk_end = if may_end_walk(&page.keys, statements.len(), query.limit) {
                conn.prepare_cached(&for_sqlite(&walk_end_sql(query.ascending)))?
                    .query_row(walk_end_values(store, page.range, &page.keys), |r| r.get(0))
                    .optional()?
            } else {
                None
            };
            Ok(finish_page(statements, query.limit, page.bound, walk_end))
        })
        .await
    }

    async fn consistent_through(&self, _store: StoreId) -> Result<Timestamp, StoreError> {
        let clock = &self.inner.clock;
        let now = Timestamp::now();
        let last = Timestamp::from_micros(clock.last_stored.load(Ordering::SeqCst));
        Ok(crate::plan::consistent_through(now, clock.in_flight.load(Ordering::SeqCst), last))
    }
}

/// What a page of a query reads: the snapshot bound, the sequence range, the filter keys,
/// and the page's SQL with the values of its parameters.
struct PageRead {
    bound: i64,
    range: (i64, i64),
    keys: Vec<FilterKey>,
    sql: String,
    values: Vec<i64>,
}

fn page_read(conn: &Connection, store: StoreId, query: &StatementQuery) -> Result<PageRead, StoreError> {
    let bound = match query.cursor {
        Some(cursor) => cursor.bound.get(),
        None => conn
            .prepare_cached(&for_sqlite(sql::INGEST_HEAD))?
            .query_row([store], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    };
    let mut seq_at = conn.prepare_cached(&for_sqlite(sql::LAST_STORED_BY))?;
    let mut resolve = |t: Timestamp| -> Result<i64, StoreError> {
        Ok(seq_at.query_row(params![store, t.as_micros()], |r| r.get(0)).optional()?.unwrap_or(0))
    };
    let since_seq = query.filter.since.map(&mut resolve).transpose()?;
    let until_seq = query.filter.until.map(&mut resolve).transpose()?;
    let range = page_range(query, bound, since_seq, until_seq);
    let keys = filter_keys(&query.filter);
    let sql = for_sqlite(&page_sql(&keys, query.ascending));
    let values = page_values(store, range, bound, query.limit, &keys);
    Ok(PageRead { bound, range, keys, sql, values })
}

impl SqliteStore {
    /// SQLite's plans (`EXPLAIN QUERY PLAN`) for the first page of `query`, then for the
    /// end of its walk when it walks: for the tests that keep every query shape on an index.
    #[doc(hidden)]
    pub async fn explain_page(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<Vec<String>, StoreError> {
        self.with_conn(move |conn| {
            let page = page_read(conn, store, &query)?;
            let explain = |sql: &str, values: &[i64]| -> Result<String, StoreError> {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let details =
                    stmt.query_map(rusqlite::params_from_iter(values), |r| r.get::<_, String>(3))?;
                Ok(details.collect::<Result<Vec<_>, _>>()?.join("\n"))
            };
            let mut plans = vec![explain(&page.sql, &page.values)?];
            if walks(&page.keys) {
                let walk_end = for_sqlite(&walk_end_sql(query.ascending));
                plans.push(explain(&walk_end, &walk_end_values(store, page.range, &page.keys))?);
            }
            Ok(plans)
        })
        .await
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
