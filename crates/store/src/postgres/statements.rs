//! Statements on PostgreSQL: the group writer and the statement queries.

use std::collections::{BTreeSet, HashMap, HashSet};

use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;
use xapi::Timestamp;

use super::{NOW_MICROS, NOW_MILLIS_CEIL, PgStore, WRITE_ATTEMPTS};
use crate::commit::{BatchOutcome, GroupWriter};
use crate::model::{
    AttachmentUpload, StatementBatch, StatementPage, StatementQuery, StoreId, StoredStatement,
};
use crate::plan::{self, GroupWrite, Head, HeldDefinitions, Known};
use crate::query::{filter_keys, page_range, page_sql};
use crate::{Cursor, StatementReader, StatementWriter, StoreError};

/// The group-commit side of the store.
#[derive(Clone)]
pub(super) struct PgWriter {
    pub(super) pool: Pool,
    pub(super) lock_namespace: i64,
}

impl GroupWriter for PgWriter {
    async fn write_group(&self, batches: Vec<StatementBatch>) -> Result<Vec<BatchOutcome>, StoreError> {
        let mut client = self.pool.get().await?;
        let mut attempt = 1;
        loop {
            match write_group(&mut client, &batches, self.lock_namespace).await {
                Err(PgWriteError::Retryable(e)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "retrying statement group");
                    attempt += 1;
                }
                Err(PgWriteError::Retryable(e)) => return Err(e.into()),
                Err(PgWriteError::Other(e)) => return Err(e),
                Ok(outcomes) => return Ok(outcomes),
            }
        }
    }
}

enum PgWriteError {
    /// A serialization failure or deadlock: the whole transaction can be run again.
    Retryable(tokio_postgres::Error),
    Other(StoreError),
}

impl From<tokio_postgres::Error> for PgWriteError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match e.code() {
            Some(code)
                if *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                PgWriteError::Retryable(e)
            }
            _ => PgWriteError::Other(e.into()),
        }
    }
}

impl From<StoreError> for PgWriteError {
    fn from(e: StoreError) -> Self {
        PgWriteError::Other(e)
    }
}

async fn write_group(
    client: &mut deadpool_postgres::Client,
    batches: &[StatementBatch],
    lock_namespace: i64,
) -> Result<Vec<BatchOutcome>, PgWriteError> {
    let tx = client.transaction().await?;
    let stores: Vec<StoreId> = batches.iter().map(|b| b.store).collect::<BTreeSet<_>>().into_iter().collect();
    // In store order, so two groups spanning the same stores cannot deadlock.
    for store in &stores {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)",
            &[&(lock_namespace as i32), &(*store as i32)],
        )
        .await?;
    }
    let rows = tx
        .query(
            &format!(
                "SELECT id, last_seq, GREATEST({NOW_MILLIS_CEIL}, last_stored) FROM stores WHERE id = ANY($1)"
            ),
            &[&stores],
        )
        .await?;
    // `stored` never moves backwards within a store (see `plan::next_stored`).
    let stored = Timestamp::from_micros(rows.iter().map(|r| r.get::<_, i64>(2)).max().unwrap_or(0));
    let heads: HashMap<StoreId, Head> =
        rows.iter().map(|r| (r.get::<_, i64>(0), Head { last_seq: r.get(1), stored })).collect();
    let ids = plan::assign_ids(batches);
    let known = fetch_known(&tx, batches, &ids).await?;
    let definitions = fetch_definitions(&tx, batches).await?;
    let write = plan::plan_group(batches, &ids, &known, &definitions, &heads);
    apply(&tx, &write).await?;
    store_attachments(&tx, &plan::accepted_attachments(batches, &write.outcomes)).await?;
    tx.commit().await?;
    Ok(write.outcomes)
}

const KNOWN_COLUMNS: &str = "store_id, seq, id, ref_id, is_voiding, voided_by IS NOT NULL, body";

fn known_row(row: &Row) -> Known {
    Known {
        store: row.get(0),
        seq: row.get(1),
        id: row.get(2),
        ref_id: row.get(3),
        is_voiding: row.get(4),
        voided: row.get(5),
        body: row.get(6),
    }
}

/// Reads the held definitions of the activities the group defines.
async fn fetch_definitions(
    tx: &deadpool_postgres::Transaction<'_>,
    batches: &[StatementBatch],
) -> Result<HeldDefinitions, tokio_postgres::Error> {
    let wanted = plan::activities_to_look_up(batches);
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let (stores, ids): (Vec<i64>, Vec<String>) = wanted.into_iter().unzip();
    let select = tx
        .prepare_cached(
            "SELECT store_id, activity_id, definition FROM activities \
             WHERE (store_id, activity_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))",
        )
        .await?;
    let mut held = HashMap::new();
    for row in tx.query(&select, &[&stores, &ids]).await? {
        if let Ok(Value::Object(definition)) = serde_json::from_str::<Value>(row.get(2)) {
            held.insert((row.get(0), row.get(1)), definition);
        }
    }
    Ok(held)
}

/// Reads every stored statement the plan needs (see [`plan::plan_group`]).
async fn fetch_known(
    tx: &deadpool_postgres::Transaction<'_>,
    batches: &[StatementBatch],
    ids: &[Vec<Uuid>],
) -> Result<Vec<Known>, tokio_postgres::Error> {
    let by_id = tx
        .prepare_cached(&format!(
            "SELECT {KNOWN_COLUMNS} FROM statements WHERE (store_id, id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[]))"
        ))
        .await?;
    let referring = tx
        .prepare_cached(&format!(
            "SELECT {KNOWN_COLUMNS} FROM statements \
             WHERE (store_id, ref_id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[]))"
        ))
        .await?;
    let mut known: HashMap<(StoreId, Uuid), Known> = HashMap::new();
    // Statements the group names, then the targets of their StatementRefs, transitively.
    let mut wanted = plan::ids_to_look_up(batches, ids);
    while !wanted.is_empty() {
        let (stores, uuids): (Vec<i64>, Vec<Uuid>) = wanted.iter().copied().unzip();
        let mut next = Vec::new();
        for row in tx.query(&by_id, &[&stores, &uuids]).await? {
            let k = known_row(&row);
            if let Some(target) = k.ref_id
                && !known.contains_key(&(k.store, target))
            {
                next.push((k.store, target));
            }
            known.insert((k.store, k.id), k);
        }
        wanted = next;
    }
    // Stored statements that refer to the group's statements, transitively.
    let mut visited: HashSet<(StoreId, Uuid)> =
        batches.iter().zip(ids).flat_map(|(b, ids)| ids.iter().map(move |id| (b.store, *id))).collect();
    let mut frontier: Vec<(StoreId, Uuid)> = visited.iter().copied().collect();
    while !frontier.is_empty() {
        let (stores, uuids): (Vec<i64>, Vec<Uuid>) = frontier.drain(..).unzip();
        for row in tx.query(&referring, &[&stores, &uuids]).await? {
            let k = known_row(&row);
            if visited.insert((k.store, k.id)) {
                frontier.push((k.store, k.id));
            }
            known.entry((k.store, k.id)).or_insert(k);
        }
    }
    Ok(known.into_values().collect())
}

/// Writes a planned group inside the open transaction: one statement per table, with the
/// rows passed as arrays, so a group costs the same few round trips whatever its size.
async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &GroupWrite,
) -> Result<(), tokio_postgres::Error> {
    if !write.rows.is_empty() {
        let rows = &write.rows;
        let stores: Vec<i64> = rows.iter().map(|r| r.store).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let stored: Vec<i64> = rows.iter().map(|r| r.stored.as_micros()).collect();
        let refs: Vec<Option<Uuid>> = rows.iter().map(|r| r.ref_id).collect();
        let voiding: Vec<bool> = rows.iter().map(|r| r.is_voiding).collect();
        let voided_by: Vec<Option<i64>> = rows.iter().map(|r| r.voided_by).collect();
        let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO statements (store_id, seq, id, stored, ref_id, is_voiding, voided_by, body) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::uuid[], $4::bigint[], $5::uuid[], \
                 $6::boolean[], $7::bigint[], $8::text[])",
            )
            .await?;
        tx.execute(&insert, &[&stores, &seqs, &ids, &stored, &refs, &voiding, &voided_by, &bodies]).await?;
    }
    if !write.index_rows.is_empty() {
        let rows = &write.index_rows;
        let stores: Vec<i64> = rows.iter().map(|r| r.store).collect();
        let kinds: Vec<i16> = rows.iter().map(|r| r.kind).collect();
        let keys: Vec<i64> = rows.iter().map(|r| r.key).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO statement_index (store_id, kind, key, seq) \
                 SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::bigint[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&insert, &[&stores, &kinds, &keys, &seqs]).await?;
    }
    for v in &write.voidings {
        tx.execute(
            "UPDATE statements SET voided_by = $3 WHERE store_id = $1 AND seq = $2 AND voided_by IS NULL",
            &[&v.store, &v.target_seq, &v.by_seq],
        )
        .await?;
    }
    if !write.definitions.is_empty() {
        let stores: Vec<i64> = write.definitions.iter().map(|d| d.store).collect();
        let ids: Vec<&str> = write.definitions.iter().map(|d| d.activity_id.as_str()).collect();
        let definitions: Vec<&str> = write.definitions.iter().map(|d| d.definition.as_str()).collect();
        let upsert = tx
            .prepare_cached(
                "INSERT INTO activities (store_id, activity_id, definition) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) \
                 ON CONFLICT (store_id, activity_id) DO UPDATE SET definition = excluded.definition",
            )
            .await?;
        tx.execute(&upsert, &[&stores, &ids, &definitions]).await?;
    }
    for (store, (seq, stored)) in &write.heads {
        tx.execute(
            "UPDATE stores SET last_seq = $2, last_stored = $3 WHERE id = $1",
            &[store, seq, &stored.as_micros()],
        )
        .await?;
    }
    Ok(())
}

/// Stores the content of accepted attachments that the store does not hold yet.
async fn store_attachments(
    tx: &deadpool_postgres::Transaction<'_>,
    uploads: &[(StoreId, &AttachmentUpload)],
) -> Result<(), StoreError> {
    for (store, upload) in uploads {
        let described = tx
            .execute(
                "INSERT INTO attachments (store_id, sha2, content_type, length, chunks) VALUES ($1, $2, $3, $4, 0) \
                 ON CONFLICT DO NOTHING",
                &[store, &upload.sha2, &upload.content_type, &(upload.length as i64)],
            )
            .await?;
        if described == 0 {
            continue; // Already held: content is stored once per hash.
        }
        let mut chunks: i32 = 0;
        for piece in upload.content.pieces()? {
            tx.execute(
                "INSERT INTO attachment_chunks (store_id, sha2, chunk, bytes) VALUES ($1, $2, $3, $4)",
                &[store, &upload.sha2, &chunks, &piece?],
            )
            .await?;
            chunks += 1;
        }
        tx.execute(
            "UPDATE attachments SET chunks = $3 WHERE store_id = $1 AND sha2 = $2",
            &[store, &upload.sha2, &chunks],
        )
        .await?;
    }
    Ok(())
}

impl StatementWriter for PgStore {
    async fn write_statements(&self, batch: StatementBatch) -> Result<Vec<Uuid>, StoreError> {
        match &self.committer {
            Some(committer) => committer.submit(batch).await,
            None => Err(StoreError::Unavailable("this store was opened read-only".into())),
        }
    }
}

fn stored_statement(row: &Row) -> StoredStatement {
    StoredStatement {
        seq: row.get(0),
        id: row.get(1),
        stored: Timestamp::from_micros(row.get(2)),
        body: row.get(3),
        voided: row.get::<_, Option<i64>>(4).is_some(),
    }
}

impl StatementReader for PgStore {
    async fn statement(&self, store: StoreId, id: Uuid) -> Result<Option<StoredStatement>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, id, stored, body, voided_by FROM statements WHERE store_id = $1 AND id = $2",
            )
            .await?;
        Ok(client.query_opt(&stmt, &[&store, &id]).await?.as_ref().map(stored_statement))
    }

    async fn query_statements(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<StatementPage, StoreError> {
        let client = self.pool.get().await?;
        let bound: i64 = match query.cursor {
            Some(cursor) => cursor.bound,
            None => client
                .query_opt("SELECT last_seq FROM stores WHERE id = $1", &[&store])
                .await?
                .map_or(0, |r| r.get(0)),
        };
        let seq_at = client
            .prepare_cached(
                "SELECT seq FROM statements WHERE store_id = $1 AND stored <= $2 ORDER BY stored DESC, seq DESC LIMIT 1",
            )
            .await?;
        let resolve = async |t: Option<Timestamp>| -> Result<Option<i64>, StoreError> {
            match t {
                None => Ok(None),
                Some(t) => Ok(Some(
                    client.query_opt(&seq_at, &[&store, &t.as_micros()]).await?.map_or(0, |r| r.get(0)),
                )),
            }
        };
        let since_seq = resolve(query.filter.since).await?;
        let until_seq = resolve(query.filter.until).await?;
        let (lo, hi) = page_range(&query, bound, since_seq, until_seq);
        let keys = filter_keys(&query.filter);
        let sql = page_sql(keys.len(), query.ascending, |n| format!("${n}"));
        let limit = query.limit as i64 + 1;
        let kinds: Vec<i16> = keys.iter().map(|k| k.0).collect();
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&store, &lo, &hi, &bound, &limit];
        for (kind, (_, key)) in kinds.iter().zip(&keys) {
            params.push(kind);
            params.push(key);
        }
        let stmt = client.prepare_cached(&sql).await?;
        let mut statements: Vec<StoredStatement> =
            client.query(&stmt, &params).await?.iter().map(stored_statement).collect();
        let next = if statements.len() > query.limit {
            statements.truncate(query.limit);
            statements.last().map(|last| Cursor { bound, after: last.seq })
        } else {
            None
        };
        Ok(StatementPage { statements, next })
    }

    async fn consistent_through(&self, store: StoreId) -> Result<Timestamp, StoreError> {
        let client = self.pool.get().await?;
        // The clock is read before looking for a writer: a writer that takes the lock
        // afterwards assigns a later `stored` time.
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {NOW_MICROS}, EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND classid::bigint = $2 AND objid::bigint = $1 AND objsubid = 2), \
                 (SELECT last_stored FROM stores WHERE id = $1)"
            ))
            .await?;
        let row = client.query_one(&stmt, &[&store, &self.lock_namespace]).await?;
        let now: i64 = row.get(0);
        let writing: bool = row.get(1);
        let last: i64 = row.get::<_, Option<i64>>(2).unwrap_or(0);
        Ok(plan::consistent_through(Timestamp::from_micros(now), writing, Timestamp::from_micros(last)))
    }
}
