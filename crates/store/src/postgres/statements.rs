//! Statements on PostgreSQL: the group writer and the statement queries.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use deadpool_postgres::Pool;
use futures_util::future::{join_all, try_join4};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use uuid::Uuid;
use xapi::Timestamp;

use super::{NOW_MICROS, NOW_MILLIS_CEIL, PgStore, WRITE_ATTEMPTS};
use crate::commit::{BatchOutcome, Group, GroupWriter};
use crate::model::{
    AttachmentUpload, StatementBatch, StatementPage, StatementQuery, StoreId, StoredStatement,
};
use crate::plan::{self, GroupWrite, Head, HeldDefinitions, IndexRow, Known};
use crate::query::{
    FilterKey, filter_keys, finish_page, may_end_walk, page_range, page_sql, page_values, walk_end_sql,
    walk_end_values, walks,
};
use crate::sql;
use crate::{StatementReader, StatementWriter, StoreError};

/// The group-commit side of the store.
#[derive(Clone)]
pub(super) struct PgWriter {
    pub(super) pool: Pool,
    pub(super) lock_namespace: i64,
}

impl GroupWriter for PgWriter {
    const GROUPS_IN_FLIGHT: usize = 2;

    async fn write_group(&self, group: Group) -> Result<Vec<BatchOutcome>, StoreError> {
        let Group { batches, ids, mut prepared } = group;
        let mut client = self.pool.get().await?;
        let mut attempt = 1;
        loop {
            match write_group(&mut client, &batches, &ids, prepared, self.lock_namespace).await {
                Err(PgWriteError::Retryable(e)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "retrying statement group");
                    attempt += 1;
                    // The failed attempt consumed the group's `Prepared` forms; rare enough to redo.
                    prepared =
                        batches.iter().zip(&ids).map(|(batch, ids)| plan::prepare(batch, ids)).collect();
                }
                Err(PgWriteError::Retryable(e)) => return Err(e.into()),
                Err(PgWriteError::Other(e)) => return Err(e),
                Ok(outcomes) => {
                    tracing::Span::current().record("attempts", attempt);
                    return Ok(outcomes);
                }
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

/// A statement and its parameters, to be sent in a pipeline.
type Call<'a> = (&'a Statement, Vec<&'a (dyn ToSql + Sync)>);

/// Sends `calls` back to back on the transaction's connection and waits for every answer:
/// one round trip instead of one per statement. PostgreSQL runs them in the order given
/// (`join_all` polls, and so sends, its futures in order), so a read placed after the
/// advisory lock runs once the lock is held and sees what the previous holder committed.
async fn pipelined(
    tx: &deadpool_postgres::Transaction<'_>,
    calls: &[Call<'_>],
) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
    join_all(calls.iter().map(|(statement, params)| tx.query(*statement, params))).await.into_iter().collect()
}

async fn write_group(
    client: &mut deadpool_postgres::Client,
    batches: &[StatementBatch],
    ids: &[Vec<Uuid>],
    prepared: Vec<Vec<plan::Prepared>>,
    lock_namespace: i64,
) -> Result<Vec<BatchOutcome>, PgWriteError> {
    // What the group looks up does not depend on the store's state: work it out first.
    let stores: Vec<StoreId> = batches.iter().map(|b| b.store).collect::<BTreeSet<_>>().into_iter().collect();
    let (namespace, lock_keys) =
        (lock_namespace as i32, stores.iter().map(|s| s.get() as i32).collect::<Vec<_>>());
    let (named_stores, named_ids): (Vec<StoreId>, Vec<Uuid>) =
        plan::ids_to_look_up(batches, ids).into_iter().unzip();
    let group: Vec<(StoreId, Uuid)> =
        batches.iter().zip(ids).flat_map(|(b, ids)| ids.iter().map(move |id| (b.store, *id))).collect();
    let (group_stores, group_ids): (Vec<StoreId>, Vec<Uuid>) = group.iter().copied().unzip();
    let (activity_stores, activity_ids): (Vec<StoreId>, Vec<String>) =
        plan::activities_to_look_up(batches).into_iter().unzip();

    let tx = client.transaction().await?;
    let statements = Prepared::new(&tx).await?;
    // One round trip: the locks, then every read the plan needs, run while they are held.
    let calls: [Call; 5] = [
        (&statements.lock, vec![&namespace, &lock_keys]),
        (&statements.heads, vec![&stores]),
        (&statements.by_id, vec![&named_stores, &named_ids]),
        (&statements.referring, vec![&group_stores, &group_ids]),
        (&statements.definitions, vec![&activity_stores, &activity_ids]),
    ];
    let [_, head_rows, by_id, referring, definition_rows] =
        <[Vec<Row>; 5]>::try_from(pipelined(&tx, &calls).await?).expect("one answer per call");

    // `stored` never moves backwards within a store (see `plan::next_stored`).
    let stored = Timestamp::from_micros(head_rows.iter().map(|r| r.get::<_, i64>(2)).max().unwrap_or(0));
    let heads: HashMap<StoreId, Head> = head_rows
        .iter()
        .map(|r| {
            let last_stored = Timestamp::from_micros(r.get(3));
            (r.get::<_, StoreId>(0), Head { last_seq: r.get(1), last_stored, stored })
        })
        .collect();
    let known = follow_references(&tx, &statements, by_id, referring, &group).await?;
    let definitions = held_definitions(&definition_rows);
    let write = plan::plan_group(batches, ids, prepared, &known, &definitions, &heads);
    let uploads = plan::accepted_attachments(batches, &write.outcomes);
    if uploads.is_empty() {
        // The COMMIT rides in the writes' round trip, so the store's lock is released one
        // round trip sooner. Once it has succeeded the handle has nothing left to do
        // (dropped, it would send a ROLLBACK); on any error it is dropped and does.
        apply(&tx, &statements, &write, Some(&statements.commit)).await?;
        std::mem::forget(tx);
    } else {
        apply(&tx, &statements, &write, None).await?;
        store_attachments(&tx, &uploads).await?;
        tx.commit().await?;
    }
    Ok(write.outcomes)
}

/// The group writer's statements, prepared once per connection.
struct Prepared {
    lock: Statement,
    heads: Statement,
    by_id: Statement,
    referring: Statement,
    definitions: Statement,
    insert_statements: Statement,
    insert_index: Statement,
    inherit_index: Statement,
    void: Statement,
    define: Statement,
    advance: Statement,
    commit: Statement,
}

const KNOWN_COLUMNS: &str = "store_id, seq, id, ref_id, is_voiding, voided_by IS NOT NULL, body";

impl Prepared {
    async fn new(tx: &deadpool_postgres::Transaction<'_>) -> Result<Prepared, tokio_postgres::Error> {
        let prepare = async |sql: &str| tx.prepare_cached(sql).await;
        Ok(Prepared {
            // In store order (`stores` is sorted), so two groups spanning the same stores
            // cannot deadlock.
            lock: prepare("SELECT pg_advisory_xact_lock($1::int, t.store) FROM unnest($2::int[]) AS t(store)")
                .await?,
            heads: prepare(&format!(
                "SELECT id, last_seq, GREATEST({NOW_MILLIS_CEIL}, last_stored), last_stored FROM stores WHERE id = ANY($1)"
            ))
            .await?,
            by_id: prepare(&format!(
                "SELECT {KNOWN_COLUMNS} FROM statements \
                 WHERE (store_id, id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[]))"
            ))
            .await?,
            referring: prepare(&format!(
                "SELECT {KNOWN_COLUMNS} FROM statements \
                 WHERE (store_id, ref_id) IN (SELECT * FROM unnest($1::bigint[], $2::uuid[]))"
            ))
            .await?,
            definitions: prepare(
                "SELECT store_id, activity_id, definition FROM activities \
                 WHERE (store_id, activity_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))",
            )
            .await?,
            insert_statements: prepare(
                "INSERT INTO statements (store_id, seq, id, stored, ref_id, is_voiding, voided_by, body) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::uuid[], $4::bigint[], $5::uuid[], \
                 $6::boolean[], $7::bigint[], $8::text[])",
            )
            .await?,
            insert_index: prepare(
                "INSERT INTO statement_index (store_id, key, seq, kinds) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[])",
            )
            .await?,
            // A stored statement that already has a row for a value gains the new kinds.
            inherit_index: prepare(
                "INSERT INTO statement_index (store_id, key, seq, kinds) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[]) \
                 ON CONFLICT (store_id, key, seq) DO UPDATE SET kinds = statement_index.kinds | excluded.kinds",
            )
            .await?,
            void: prepare(
                "UPDATE statements s SET voided_by = v.by_seq \
                 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(store_id, seq, by_seq) \
                 WHERE s.store_id = v.store_id AND s.seq = v.seq AND s.voided_by IS NULL",
            )
            .await?,
            define: prepare(
                "INSERT INTO activities (store_id, activity_id, definition) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) \
                 ON CONFLICT (store_id, activity_id) DO UPDATE SET definition = excluded.definition",
            )
            .await?,
            advance: prepare(
                "UPDATE stores s SET last_seq = h.last_seq, last_stored = h.last_stored \
                 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS h(id, last_seq, last_stored) \
                 WHERE s.id = h.id",
            )
            .await?,
            commit: prepare("COMMIT").await?,
        })
    }
}

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

/// The held definitions among the rows read from `activities`.
fn held_definitions(rows: &[Row]) -> HeldDefinitions {
    let mut held = HashMap::new();
    for row in rows {
        if let Ok(Value::Object(definition)) = serde_json::from_str::<Value>(row.get(2)) {
            held.insert((row.get(0), row.get(1)), definition);
        }
    }
    held
}

/// Every stored statement the plan needs (see [`plan::plan_group`]), from the first
/// reads: the statements the group names (`by_id`) and those that refer to the group's
/// statements (`referring`). Chains of StatementRefs are followed further here, which
/// costs a round trip per link only when a group meets one.
async fn follow_references(
    tx: &deadpool_postgres::Transaction<'_>,
    statements: &Prepared,
    by_id: Vec<Row>,
    referring: Vec<Row>,
    group: &[(StoreId, Uuid)],
) -> Result<Vec<Known>, tokio_postgres::Error> {
    let mut known: HashMap<(StoreId, Uuid), Known> = HashMap::new();
    // The targets of named statements' StatementRefs, transitively.
    let mut rows = by_id;
    loop {
        let mut wanted = Vec::new();
        for row in &rows {
            let k = known_row(row);
            if let Some(target) = k.ref_id
                && !known.contains_key(&(k.store, target))
            {
                wanted.push((k.store, target));
            }
            known.insert((k.store, k.id), k);
        }
        wanted.retain(|key| !known.contains_key(key));
        if wanted.is_empty() {
            break;
        }
        let (stores, uuids): (Vec<StoreId>, Vec<Uuid>) = wanted.into_iter().unzip();
        rows = tx.query(&statements.by_id, &[&stores, &uuids]).await?;
    }
    // Stored statements that refer to the group's statements, transitively.
    let mut visited: HashSet<(StoreId, Uuid)> = group.iter().copied().collect();
    let mut rows = referring;
    loop {
        let mut frontier = Vec::new();
        for row in &rows {
            let k = known_row(row);
            if visited.insert((k.store, k.id)) {
                frontier.push((k.store, k.id));
            }
            known.entry((k.store, k.id)).or_insert(k);
        }
        if frontier.is_empty() {
            break;
        }
        let (stores, uuids): (Vec<StoreId>, Vec<Uuid>) = frontier.into_iter().unzip();
        rows = tx.query(&statements.referring, &[&stores, &uuids]).await?;
    }
    Ok(known.into_values().collect())
}

/// Columns of index rows, as the arrays `unnest` takes.
struct IndexColumns {
    stores: Vec<StoreId>,
    keys: Vec<i64>,
    seqs: Vec<i64>,
    kinds: Vec<i16>,
}

impl IndexColumns {
    fn of(rows: &[IndexRow]) -> IndexColumns {
        IndexColumns {
            stores: rows.iter().map(|r| r.store).collect(),
            keys: rows.iter().map(|r| r.key).collect(),
            seqs: rows.iter().map(|r| r.seq).collect(),
            kinds: rows.iter().map(|r| r.kinds).collect(),
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![&self.stores, &self.keys, &self.seqs, &self.kinds]
    }
}

/// Writes a planned group inside the open transaction: one statement per table, with the
/// rows passed as arrays, all sent in one round trip, so a group costs the same whatever
/// its size.
/// Sends every write of the plan in one round trip, followed by `commit` when given.
async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    statements: &Prepared,
    write: &GroupWrite,
    commit: Option<&Statement>,
) -> Result<(), tokio_postgres::Error> {
    let rows = &write.rows;
    let stores: Vec<StoreId> = rows.iter().map(|r| r.store).collect();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let stored: Vec<i64> = rows.iter().map(|r| r.stored.as_micros()).collect();
    let refs: Vec<Option<Uuid>> = rows.iter().map(|r| r.ref_id).collect();
    let voiding: Vec<bool> = rows.iter().map(|r| r.is_voiding).collect();
    let voided_by: Vec<Option<i64>> = rows.iter().map(|r| r.voided_by).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    let own = IndexColumns::of(&write.index_rows);
    let inherited = IndexColumns::of(&write.inherited_index_rows);
    let void_stores: Vec<StoreId> = write.voidings.iter().map(|v| v.store).collect();
    let void_seqs: Vec<i64> = write.voidings.iter().map(|v| v.target_seq).collect();
    let void_by: Vec<i64> = write.voidings.iter().map(|v| v.by_seq).collect();
    let define_stores: Vec<StoreId> = write.definitions.iter().map(|d| d.store).collect();
    let define_ids: Vec<&str> = write.definitions.iter().map(|d| d.activity_id.as_str()).collect();
    let define_bodies: Vec<&str> = write.definitions.iter().map(|d| d.definition.as_str()).collect();
    let head_stores: Vec<StoreId> = write.heads.keys().copied().collect();
    let head_seqs: Vec<i64> = write.heads.values().map(|(seq, _)| *seq).collect();
    let head_stored: Vec<i64> = write.heads.values().map(|(_, stored)| stored.as_micros()).collect();

    let mut calls: Vec<Call> = Vec::new();
    if !rows.is_empty() {
        calls.push((
            &statements.insert_statements,
            vec![&stores, &seqs, &ids, &stored, &refs, &voiding, &voided_by, &bodies],
        ));
    }
    if !own.stores.is_empty() {
        calls.push((&statements.insert_index, own.params()));
    }
    if !inherited.stores.is_empty() {
        calls.push((&statements.inherit_index, inherited.params()));
    }
    if !void_stores.is_empty() {
        calls.push((&statements.void, vec![&void_stores, &void_seqs, &void_by]));
    }
    if !define_stores.is_empty() {
        calls.push((&statements.define, vec![&define_stores, &define_ids, &define_bodies]));
    }
    if !head_stores.is_empty() {
        calls.push((&statements.advance, vec![&head_stores, &head_seqs, &head_stored]));
    }
    if let Some(commit) = commit {
        calls.push((commit, Vec::new()));
    }
    pipelined(tx, &calls).await?;
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
            tx.execute(sql::ADD_ATTACHMENT_CHUNK, &[store, &upload.sha2, &chunks, &piece?]).await?;
            chunks += 1;
        }
        tx.execute(sql::SET_ATTACHMENT_CHUNKS, &[store, &upload.sha2, &chunks]).await?;
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
        let stmt = client.prepare_cached(sql::STATEMENT).await?;
        Ok(client.query_opt(&stmt, &[&store, &id]).await?.as_ref().map(stored_statement))
    }

    async fn query_statements(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<StatementPage, StoreError> {
        let client = self.pool.get().await?;
        Ok(self.read_page(&client, store, query, false).await?.1)
    }

    async fn consistent_through(&self, store: StoreId) -> Result<Timestamp, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(&CONSISTENT_THROUGH).await?;
        let (store, namespace, key) = self.consistent_through_params(store);
        let row = client.query_one(&stmt, &[&store, &namespace, &key]).await?;
        Ok(consistent_through_of(&row))
    }

    async fn consistent_page(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> Result<(Timestamp, StatementPage), StoreError> {
        let client = self.pool.get().await?;
        let (through, page) = self.read_page(&client, store, query, true).await?;
        Ok((through.expect("read_page reads Consistent-Through when asked to"), page))
    }
}

/// Consistent-Through's inputs in one statement. The clock is read before looking for a
/// writer: a writer that takes the lock afterwards assigns a later `stored` time. A
/// writer holds (or waits for) the store's lock exactly while it may have a `stored` time
/// in flight, so a shared try-lock that fails means one does; held to the end of this one
/// statement, the probe delays a writer by microseconds at most (scanning `pg_locks`
/// instead would take every lock-manager partition lock on each GET).
static CONSISTENT_THROUGH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {NOW_MICROS}, pg_try_advisory_xact_lock_shared($2::int, $3::int), \
         (SELECT last_stored FROM stores WHERE id = $1)"
    )
});

fn consistent_through_of(row: &Row) -> Timestamp {
    let now: i64 = row.get(0);
    let writing: bool = !row.get::<_, bool>(1);
    let last: i64 = row.get::<_, Option<i64>>(2).unwrap_or(0);
    plan::consistent_through(Timestamp::from_micros(now), writing, Timestamp::from_micros(last))
}

impl PgStore {
    /// The parameters of [`CONSISTENT_THROUGH`]: the store, and its lock's two keys.
    fn consistent_through_params(&self, store: StoreId) -> (StoreId, i32, i32) {
        (store, self.lock_namespace as i32, store.get() as i32)
    }

    /// Consistent-Through (when asked), the page's snapshot bound (the store's head) and
    /// its sequence range (what `since` and `until` resolve to), read in one round trip.
    /// PostgreSQL runs them in that order, each in a snapshot of its own, so the head read
    /// after Consistent-Through holds every statement it vouches for.
    async fn page_bounds(
        &self,
        client: &deadpool_postgres::Client,
        store: StoreId,
        query: &StatementQuery,
        with_consistent_through: bool,
    ) -> Result<(Option<Timestamp>, i64, (i64, i64)), StoreError> {
        let through_stmt = client.prepare_cached(&CONSISTENT_THROUGH).await?;
        let head_stmt = client.prepare_cached(sql::INGEST_HEAD).await?;
        let seq_at = client.prepare_cached(sql::LAST_STORED_BY).await?;
        let (_, namespace, key) = self.consistent_through_params(store);
        let through = async {
            if !with_consistent_through {
                return Ok::<_, tokio_postgres::Error>(None);
            }
            let row = client.query_one(&through_stmt, &[&store, &namespace, &key]).await?;
            Ok(Some(consistent_through_of(&row)))
        };
        let head = async {
            match query.cursor {
                Some(cursor) => Ok(cursor.bound.get()),
                None => Ok(client.query_opt(&head_stmt, &[&store]).await?.map_or(0, |r| r.get(0))),
            }
        };
        let resolve = async |t: Option<Timestamp>| match t {
            None => Ok(None),
            Some(t) => {
                Ok(Some(client.query_opt(&seq_at, &[&store, &t.as_micros()]).await?.map_or(0, |r| r.get(0))))
            }
        };
        let (through, bound, since_seq, until_seq) =
            try_join4(through, head, resolve(query.filter.since), resolve(query.filter.until)).await?;
        Ok((through, bound, page_range(query, bound, since_seq, until_seq)))
    }

    /// A page of a query, and Consistent-Through when `with_consistent_through`: one
    /// round trip for what the page needs first ([`Self::page_bounds`]), one for the page.
    async fn read_page(
        &self,
        client: &deadpool_postgres::Client,
        store: StoreId,
        query: StatementQuery,
        with_consistent_through: bool,
    ) -> Result<(Option<Timestamp>, StatementPage), StoreError> {
        let (through, bound, (lo, hi)) =
            self.page_bounds(client, store, &query, with_consistent_through).await?;
        let keys = filter_keys(&query.filter);
        let sql = page_sql(&keys, query.ascending);
        let limit = query.limit as i64 + 1;
        let bits: Vec<i16> = keys.iter().map(FilterKey::bit).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&store, &lo, &hi, &bound, &limit];
        for (bit, key) in bits.iter().zip(&keys) {
            params.push(bit);
            params.push(&key.digest);
        }
        let stmt = client.prepare_cached(&sql).await?;
        let statements: Vec<StoredStatement> =
            client.query(&stmt, &params).await?.iter().map(stored_statement).collect();
        let walk_end = if may_end_walk(&keys, statements.len(), query.limit) {
            let stmt = client.prepare_cached(&walk_end_sql(query.ascending)).await?;
            let values = walk_end_values(store, (lo, hi), &keys);
            client
                .query_opt(&stmt, &[&values[0], &values[1], &values[2], &values[3]])
                .await?
                .map(|r| r.get(0))
        } else {
            None
        };
        Ok((through, finish_page(statements, query.limit, bound, walk_end)))
    }
}

impl PgStore {
    /// PostgreSQL's plans for the first page of `query`, then for the end of its walk
    /// when it walks: the custom plans (the parameters' values known, as for a prepared
    /// statement's first runs) or the generic ones (unknown, which PostgreSQL may switch a
    /// prepared statement to after five runs). For the tests that keep every query shape
    /// on an index.
    #[doc(hidden)]
    pub async fn explain_page(
        &self,
        store: StoreId,
        query: StatementQuery,
        generic: bool,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let (_, bound, range) = self.page_bounds(&client, store, &query, false).await?;
        let keys = filter_keys(&query.filter);
        let page = page_sql(&keys, query.ascending);
        let mut plans = vec![
            explain(&client, generic, false, &page, &page_values(store, range, bound, query.limit, &keys))
                .await?,
        ];
        if walks(&keys) {
            let walk_end = walk_end_sql(query.ascending);
            plans.push(
                explain(&client, generic, false, &walk_end, &walk_end_values(store, range, &keys)).await?,
            );
        }
        Ok(plans)
    }
}

/// `EXPLAIN EXECUTE` of `sql` prepared on the session, under the plan cache mode asked for
/// (with `analyze`, run, with the rows each node read).
pub(super) async fn explain(
    client: &deadpool_postgres::Client,
    generic: bool,
    analyze: bool,
    sql: &str,
    values: &[i64],
) -> Result<String, StoreError> {
    let mode = if generic { "force_generic_plan" } else { "force_custom_plan" };
    client.batch_execute(&format!("SET plan_cache_mode = {mode}; PREPARE tally_explain AS {sql}")).await?;
    let values = values.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let options = if analyze { "(ANALYZE) " } else { "" };
    let explained = client.simple_query(&format!("EXPLAIN {options}EXECUTE tally_explain({values})")).await;
    // The pooled session goes back as it came, whatever EXPLAIN did.
    client.batch_execute("DEALLOCATE tally_explain; RESET plan_cache_mode").await?;
    let lines = explained?.into_iter().filter_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    });
    Ok(lines.collect::<Vec<_>>().join("\n"))
}
