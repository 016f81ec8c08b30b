//! Tickets, goals and rollups on PostgreSQL (the SQL is shared with SQLite, see
//! `crate::sql`, except the ticket upsert, which takes a whole batch as arrays).

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use xapi::Timestamp;

use super::{NOW_MICROS, PgStore};
use crate::insights::{
    ActivityActorRow, ActivitySelection, ChangeRow, DailyActorRow, DailyCursor, DailyRow, GoalRow,
    RevisionRow, RollupStep, TailedStatement, TicketCoverage, TicketCursor, TicketFilter, TicketRow, merged,
};
use crate::model::{Seq, StoreId};
use crate::sql;
use crate::{
    GoalReader, GoalWriter, RollupReader, RollupWriter, StatementTail, StoreError, TicketReader, TicketWriter,
};

type Param<'a> = &'a (dyn ToSql + Sync);

/// One statement for a whole batch of tickets (the columns as arrays); `xmax = 0` tells a
/// row it inserted from one it updated.
const UPSERT_TICKETS: &str = "INSERT INTO tickets (store_id, source, external_id, created, resolved, status, \
    category, tags, product, requester, requester_keys, priority, channel, subject, imported) \
    SELECT $1, t.*, $2 FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], \
    $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]) AS t \
    ON CONFLICT (store_id, source, external_id) DO UPDATE SET created = excluded.created, \
    resolved = excluded.resolved, status = excluded.status, category = excluded.category, tags = excluded.tags, \
    product = excluded.product, requester = excluded.requester, requester_keys = excluded.requester_keys, \
    priority = excluded.priority, channel = excluded.channel, subject = excluded.subject, imported = excluded.imported \
    RETURNING (xmax = 0)";

/// The last version of each ticket in import order (one statement may not upsert a row
/// twice), and how many earlier versions were folded into it: each of those counts as an
/// update, as if the rows had been upserted one by one.
fn last_of_each(tickets: Vec<TicketRow>) -> (Vec<TicketRow>, u64) {
    let mut position = std::collections::HashMap::with_capacity(tickets.len());
    let mut kept: Vec<TicketRow> = Vec::with_capacity(tickets.len());
    let mut repeats = 0;
    for ticket in tickets {
        let key = (ticket.source.clone(), ticket.external_id.clone());
        match position.get(&key) {
            Some(&at) => {
                kept[at] = ticket;
                repeats += 1;
            }
            None => {
                position.insert(key, kept.len());
                kept.push(ticket);
            }
        }
    }
    (kept, repeats)
}

/// Ticket columns as the arrays `unnest` takes, in the table's column order.
struct TicketColumns {
    source: Vec<String>,
    external_id: Vec<String>,
    created: Vec<i64>,
    resolved: Vec<Option<i64>>,
    /// `status` to `subject`.
    text: [Vec<String>; 9],
}

impl TicketColumns {
    fn of(tickets: &[TicketRow]) -> TicketColumns {
        let column = |f: fn(&TicketRow) -> String| tickets.iter().map(f).collect::<Vec<_>>();
        TicketColumns {
            source: column(|t| t.source.clone()),
            external_id: column(|t| t.external_id.clone()),
            created: tickets.iter().map(|t| t.created).collect(),
            resolved: tickets.iter().map(|t| t.resolved).collect(),
            text: [
                column(|t| t.status.clone()),
                column(|t| t.category.clone()),
                column(TicketRow::tags_column),
                column(|t| t.product.clone()),
                column(|t| t.requester.clone()),
                column(|t| t.requester_keys.join(" ")),
                column(|t| t.priority.clone()),
                column(|t| t.channel.clone()),
                column(|t| t.subject.clone()),
            ],
        }
    }

    /// `$3` to `$15` of [`UPSERT_TICKETS`].
    fn params(&self) -> Vec<Param<'_>> {
        let mut params: Vec<Param<'_>> = vec![&self.source, &self.external_id, &self.created, &self.resolved];
        params.extend(self.text.iter().map(|column| column as Param<'_>));
        params
    }
}

fn ticket_row(r: &Row) -> TicketRow {
    let tags: String = r.get(6);
    let keys: String = r.get(9);
    TicketRow {
        source: r.get(0),
        external_id: r.get(1),
        created: r.get(2),
        resolved: r.get(3),
        status: r.get(4),
        category: r.get(5),
        tags: TicketRow::tags_from(&tags),
        product: r.get(7),
        requester: r.get(8),
        requester_keys: keys.split_whitespace().map(str::to_string).collect(),
        priority: r.get(10),
        channel: r.get(11),
        subject: r.get(12),
    }
}

impl TicketReader for PgStore {
    async fn tickets(&self, store: StoreId, filter: TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql::TICKETS_IN_RANGE).await?;
        let (from, to) = (filter.from.unwrap_or(i64::MIN), filter.to.unwrap_or(i64::MAX));
        let rows = client.query(&select, &[&store, &from, &to]).await?;
        Ok(rows.iter().map(ticket_row).filter(|t| filter.keeps(t)).collect())
    }

    async fn ticket_page(
        &self,
        store: StoreId,
        after: Option<TicketCursor>,
        limit: usize,
    ) -> Result<Vec<TicketRow>, StoreError> {
        let client = self.pool.get().await?;
        let after = after.unwrap_or(TicketCursor {
            created: i64::MIN,
            source: String::new(),
            external_id: String::new(),
        });
        let select = client.prepare_cached(sql::TICKET_PAGE).await?;
        let rows = client
            .query(&select, &[&store, &after.created, &after.source, &after.external_id, &(limit as i64)])
            .await?;
        Ok(rows.iter().map(ticket_row).collect())
    }

    async fn coverage(&self, store: StoreId) -> Result<Vec<TicketCoverage>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::COVERAGE, &[&store]).await?;
        Ok(rows.iter().map(|r| TicketCoverage { source: r.get(0), through: r.get(1) }).collect())
    }

    async fn ticket_requesters(&self, store: StoreId, before: i64) -> Result<Vec<Vec<String>>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::REQUESTERS, &[&store, &before]).await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, &str>(0).split_whitespace().map(str::to_string).collect())
            .collect())
    }
}

impl TicketWriter for PgStore {
    async fn upsert_tickets(
        &self,
        store: StoreId,
        tickets: Vec<TicketRow>,
    ) -> Result<(u64, u64), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let counts = upsert_ticket_rows(&tx, store, tickets).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn record_coverage(&self, store: StoreId, coverage: Vec<TicketCoverage>) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let record = tx.prepare_cached(sql::RECORD_COVERAGE).await?;
        for c in &coverage {
            tx.execute(&record, &[&store, &c.source, &c.through]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts or updates tickets inside `tx`, in one statement; answers (inserted, updated).
pub(super) async fn upsert_ticket_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    store: StoreId,
    tickets: Vec<TicketRow>,
) -> Result<(u64, u64), StoreError> {
    let (tickets, repeats) = last_of_each(tickets);
    let columns = TicketColumns::of(&tickets);
    let now = Timestamp::now().as_micros();
    let upsert = tx.prepare_cached(UPSERT_TICKETS).await?;
    let mut params: Vec<Param<'_>> = vec![&store, &now];
    params.extend(columns.params());
    let rows = tx.query(&upsert, &params).await?;
    let inserted = rows.iter().filter(|row| row.get::<_, bool>(0)).count() as u64;
    Ok((inserted, rows.len() as u64 - inserted + repeats))
}

/// A rollup step's rows as the arrays `unnest` takes, one statement per table: the same
/// upserts as `sql::ADD_DAILY`, `ADD_DAILY_ACTOR`, `PUT_ACTIVITY_ACTOR` and `ADD_REVISION`.
const ADD_DAILY_ROWS: &str = "INSERT INTO rollup_daily (store_id, day, activity_id, verb_id, statements, \
    completions, passes, failures, scaled_sum, scaled_count, duration_ms) \
    SELECT $1, t.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
    $8::bigint[], $9::float8[], $10::bigint[], $11::bigint[]) AS t \
    ON CONFLICT (store_id, day, activity_id, verb_id) DO UPDATE SET \
    statements = rollup_daily.statements + excluded.statements, \
    completions = rollup_daily.completions + excluded.completions, passes = rollup_daily.passes + excluded.passes, \
    failures = rollup_daily.failures + excluded.failures, scaled_sum = rollup_daily.scaled_sum + excluded.scaled_sum, \
    scaled_count = rollup_daily.scaled_count + excluded.scaled_count, \
    duration_ms = rollup_daily.duration_ms + excluded.duration_ms";
const ADD_DAILY_ACTOR_ROWS: &str = "INSERT INTO rollup_daily_actors (store_id, day, activity_id, actor, \
    statements) SELECT $1, t.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS t \
    ON CONFLICT (store_id, day, activity_id, actor) \
    DO UPDATE SET statements = rollup_daily_actors.statements + excluded.statements";
const PUT_ACTIVITY_ACTOR_ROWS: &str = "INSERT INTO rollup_activity_actors (store_id, activity_id, actor, \
    statements, completions, first_seen, last_seen, best_progress, segments, length_s) \
    SELECT $1, t.* FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], \
    $8::float8[], $9::text[], $10::float8[]) AS t \
    ON CONFLICT (store_id, activity_id, actor) DO UPDATE SET \
    statements = excluded.statements, completions = excluded.completions, first_seen = excluded.first_seen, \
    last_seen = excluded.last_seen, best_progress = excluded.best_progress, segments = excluded.segments, \
    length_s = excluded.length_s";
const ADD_REVISION_ROWS: &str = "INSERT INTO rollup_revisions (store_id, activity_id, marker, first_seen) \
    SELECT $1, t.* FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t \
    ON CONFLICT (store_id, activity_id, marker) DO UPDATE SET first_seen = \
    CASE WHEN excluded.first_seen < rollup_revisions.first_seen THEN excluded.first_seen \
    ELSE rollup_revisions.first_seen END";

/// Columns of `rows` as vectors, by a getter per column.
fn column<R, T>(rows: &[R], get: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(get).collect()
}

struct DailyColumns {
    day: Vec<i64>,
    text: [Vec<String>; 2],
    counts: [Vec<i64>; 4],
    scaled_sum: Vec<f64>,
    tail: [Vec<i64>; 2],
}

impl DailyColumns {
    fn of(rows: &[DailyRow]) -> DailyColumns {
        DailyColumns {
            day: column(rows, |r| r.day),
            text: [column(rows, |r| r.activity_id.clone()), column(rows, |r| r.verb_id.clone())],
            counts: [
                column(rows, |r| r.statements),
                column(rows, |r| r.completions),
                column(rows, |r| r.passes),
                column(rows, |r| r.failures),
            ],
            scaled_sum: column(rows, |r| r.scaled_sum),
            tail: [column(rows, |r| r.scaled_count), column(rows, |r| r.duration_ms)],
        }
    }

    /// `$2` to `$11` of [`ADD_DAILY_ROWS`]; empty when there are no rows.
    fn params(&self) -> Vec<Param<'_>> {
        if self.day.is_empty() {
            return Vec::new();
        }
        let mut params: Vec<Param<'_>> = vec![&self.day, &self.text[0], &self.text[1]];
        params.extend(self.counts.iter().map(|c| c as Param<'_>));
        params.extend([&self.scaled_sum as Param<'_>, &self.tail[0], &self.tail[1]]);
        params
    }
}

struct DailyActorColumns {
    day: Vec<i64>,
    text: [Vec<String>; 2],
    statements: Vec<i64>,
}

impl DailyActorColumns {
    fn of(rows: &[DailyActorRow]) -> DailyActorColumns {
        DailyActorColumns {
            day: column(rows, |r| r.day),
            text: [column(rows, |r| r.activity_id.clone()), column(rows, |r| r.actor.clone())],
            statements: column(rows, |r| r.statements),
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        if self.day.is_empty() {
            return Vec::new();
        }
        vec![&self.day, &self.text[0], &self.text[1], &self.statements]
    }
}

struct ActivityActorColumns {
    text: [Vec<String>; 2],
    counts: [Vec<i64>; 4],
    best_progress: Vec<f64>,
    segments: Vec<String>,
    length: Vec<Option<f64>>,
}

impl ActivityActorColumns {
    fn of(rows: &[&ActivityActorRow]) -> ActivityActorColumns {
        ActivityActorColumns {
            text: [column(rows, |r| r.activity_id.clone()), column(rows, |r| r.actor.clone())],
            counts: [
                column(rows, |r| r.statements),
                column(rows, |r| r.completions),
                column(rows, |r| r.first_seen),
                column(rows, |r| r.last_seen),
            ],
            best_progress: column(rows, |r| r.best_progress),
            segments: column(rows, |r| r.segments.clone()),
            length: column(rows, |r| r.length),
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        if self.segments.is_empty() {
            return Vec::new();
        }
        let mut params: Vec<Param<'_>> = vec![&self.text[0], &self.text[1]];
        params.extend(self.counts.iter().map(|c| c as Param<'_>));
        params.extend([&self.best_progress as Param<'_>, &self.segments, &self.length]);
        params
    }
}

struct RevisionColumns {
    text: [Vec<String>; 2],
    first_seen: Vec<i64>,
}

impl RevisionColumns {
    fn of(rows: &[RevisionRow]) -> RevisionColumns {
        RevisionColumns {
            text: [column(rows, |r| r.activity_id.clone()), column(rows, |r| r.marker.clone())],
            first_seen: column(rows, |r| r.first_seen),
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        if self.first_seen.is_empty() {
            return Vec::new();
        }
        vec![&self.text[0], &self.text[1], &self.first_seen]
    }
}

fn goal_row(r: &Row) -> GoalRow {
    GoalRow { id: r.get(0), definition: r.get(1), created: r.get(2), updated: r.get(3) }
}

impl GoalReader for PgStore {
    async fn goal(&self, store: StoreId, id: &str) -> Result<Option<GoalRow>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::GOAL, &[&store, &id]).await?.as_ref().map(goal_row))
    }

    async fn goals(&self, store: StoreId) -> Result<Vec<GoalRow>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query(sql::GOALS, &[&store]).await?.iter().map(goal_row).collect())
    }

    async fn changes(&self, store: StoreId, goal: &str) -> Result<Vec<ChangeRow>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::CHANGES, &[&store, &goal]).await?;
        Ok(rows
            .iter()
            .map(|r| ChangeRow { id: r.get(0), at: r.get(1), kind: r.get(2), note: r.get(3) })
            .collect())
    }
}

impl GoalWriter for PgStore {
    async fn put_goal(&self, store: StoreId, id: &str, definition: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let now = client.query_one(&format!("SELECT {NOW_MICROS}"), &[]).await?.get::<_, i64>(0);
        // `xmax = 0` tells an inserted row from an updated one.
        let row = client
            .query_one(&format!("{} RETURNING (xmax = 0)", sql::PUT_GOAL), &[&store, &id, &definition, &now])
            .await?;
        Ok(row.get(0))
    }

    async fn delete_goal(&self, store: StoreId, id: &str) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(sql::DELETE_GOAL_CHANGES, &[&store, &id]).await?;
        let deleted = tx.execute(sql::DELETE_GOAL, &[&store, &id]).await? > 0;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn add_change(&self, store: StoreId, goal: &str, change: ChangeRow) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let added = client
            .execute(sql::ADD_CHANGE, &[&store, &goal, &change.id, &change.at, &change.kind, &change.note])
            .await?;
        if added == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_change(&self, store: StoreId, goal: &str, change: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::DELETE_CHANGE, &[&store, &goal, &change]).await? > 0)
    }
}

fn activity_actor_row(r: &Row) -> ActivityActorRow {
    ActivityActorRow {
        activity_id: r.get(0),
        actor: r.get(1),
        statements: r.get(2),
        completions: r.get(3),
        first_seen: r.get(4),
        last_seen: r.get(5),
        best_progress: r.get(6),
        segments: r.get(7),
        length: r.get(8),
    }
}

fn daily_row(r: &Row) -> DailyRow {
    DailyRow {
        day: r.get(0),
        activity_id: r.get(1),
        verb_id: r.get(2),
        statements: r.get(3),
        completions: r.get(4),
        passes: r.get(5),
        failures: r.get(6),
        scaled_sum: r.get(7),
        scaled_count: r.get(8),
        duration_ms: r.get(9),
    }
}

impl PgStore {
    /// Runs a selection query once per listed id and once for the prefix.
    async fn selected(
        &self,
        sql: &str,
        selection: &ActivitySelection,
        store: StoreId,
        extra: &[Param<'_>],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql).await?;
        let mut rows = Vec::new();
        for (id, pattern) in selection.runs() {
            let mut params: Vec<Param<'_>> = vec![&store, &id, &pattern];
            params.extend_from_slice(extra);
            rows.extend(client.query(&select, &params).await?);
        }
        Ok(rows)
    }
}

impl RollupReader for PgStore {
    async fn ingest_head(&self, store: StoreId) -> Result<Seq, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::INGEST_HEAD, &[&store]).await?.map_or(Seq::default(), |r| r.get(0)))
    }

    async fn rollup_watermark(&self, store: StoreId) -> Result<Seq, StoreError> {
        let client = self.pool.get().await?;
        // The epoch first: rollups built meanwhile at a newer one count as nothing built.
        let wanted = epoch_of(client.query_opt(sql::ROLLUP_EPOCH, &[&store]).await?);
        let built = client.query_opt(sql::WATERMARK, &[&store]).await?.map(|r| (r.get(0), r.get(1)));
        Ok(crate::insights::effective_watermark(wanted, built))
    }

    async fn rollup_epoch(&self, store: StoreId) -> Result<i64, StoreError> {
        let client = self.pool.get().await?;
        Ok(epoch_of(client.query_opt(sql::ROLLUP_EPOCH, &[&store]).await?))
    }

    async fn activity_actors(
        &self,
        store: StoreId,
        selection: ActivitySelection,
    ) -> Result<Vec<ActivityActorRow>, StoreError> {
        let rows: Vec<ActivityActorRow> = self
            .selected(sql::ACTIVITY_ACTORS, &selection, store, &[])
            .await?
            .iter()
            .map(activity_actor_row)
            .collect();
        Ok(merged(rows))
    }

    async fn known_actors(&self, store: StoreId, before: i64) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::KNOWN_ACTORS, &[&store, &before]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn revisions(
        &self,
        store: StoreId,
        selection: ActivitySelection,
    ) -> Result<Vec<RevisionRow>, StoreError> {
        let rows: Vec<RevisionRow> = self
            .selected(sql::REVISIONS, &selection, store, &[])
            .await?
            .iter()
            .map(|r| RevisionRow { activity_id: r.get(0), marker: r.get(1), first_seen: r.get(2) })
            .collect();
        Ok(merged(rows))
    }

    async fn daily(
        &self,
        store: StoreId,
        selection: ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DailyRow>, StoreError> {
        let rows: Vec<DailyRow> = self
            .selected(sql::DAILY, &selection, store, &[&from_day, &to_day])
            .await?
            .iter()
            .map(daily_row)
            .collect();
        Ok(merged(rows))
    }

    async fn daily_actors(
        &self,
        store: StoreId,
        selection: ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DailyActorRow>, StoreError> {
        let rows: Vec<DailyActorRow> = self
            .selected(sql::DAILY_ACTORS, &selection, store, &[&from_day, &to_day])
            .await?
            .iter()
            .map(|r| DailyActorRow {
                day: r.get(0),
                activity_id: r.get(1),
                actor: r.get(2),
                statements: r.get(3),
            })
            .collect();
        Ok(merged(rows))
    }

    async fn daily_page(
        &self,
        store: StoreId,
        after: Option<DailyCursor>,
        limit: usize,
    ) -> Result<Vec<DailyRow>, StoreError> {
        let client = self.pool.get().await?;
        let DailyCursor { day, activity_id: activity, verb_id: verb } =
            after.unwrap_or_else(DailyCursor::start);
        let select = client.prepare_cached(sql::DAILY_PAGE).await?;
        let rows = client.query(&select, &[&store, &day, &activity, &verb, &(limit as i64)]).await?;
        Ok(rows.iter().map(daily_row).collect())
    }
}

impl StatementTail for PgStore {
    async fn statements_after(
        &self,
        store: StoreId,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<TailedStatement>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql::STATEMENTS_AFTER).await?;
        let mut rows = client.query(&select, &[&store, &after, &(limit as i64)]).await?;
        if rows.is_empty() {
            // The range may have fallen in a gap: read on from the next statement, if any.
            let next: Option<Seq> = client.query_one(sql::NEXT_SEQ, &[&store, &after]).await?.get(0);
            if let Some(next) = next {
                rows = client.query(&select, &[&store, &next.before(), &(limit as i64)]).await?;
            }
        }
        Ok(rows
            .iter()
            .map(|r| TailedStatement { seq: r.get(0), id: r.get(1), body: r.get(2), voided_by: r.get(3) })
            .collect())
    }
}

impl RollupWriter for PgStore {
    async fn activity_actor_rows(
        &self,
        store: StoreId,
        pairs: Vec<(String, String)>,
    ) -> Result<Vec<ActivityActorRow>, StoreError> {
        let client = self.pool.get().await?;
        let (activities, actors): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
        let rows = client
            .query(
                "SELECT activity_id, actor, statements, completions, first_seen, last_seen, best_progress, segments, length_s \
                 FROM rollup_activity_actors WHERE store_id = $1 \
                 AND (activity_id, actor) IN (SELECT * FROM unnest($2::text[], $3::text[]))",
                &[&store, &activities, &actors],
            )
            .await?;
        Ok(rows.iter().map(activity_actor_row).collect())
    }

    async fn apply_rollup(&self, store: StoreId, step: RollupStep) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One engine at a time per store: lock the watermark row (or its absence).
        tx.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)",
            &[&((self.lock_namespace as i32) ^ 0x5a5a), &(store.get() as i32)],
        )
        .await?;
        // Not locked (that would hold up the statement writer, which updates the same row):
        // an erasure committing before this step does leaves a step of the old epoch, which
        // counts as nothing built and is cleared by the next.
        let wanted = epoch_of(tx.query_opt(sql::ROLLUP_EPOCH, &[&store]).await?);
        let built = tx.query_opt(sql::WATERMARK, &[&store]).await?.map(|r| (r.get(0), r.get(1)));
        if crate::insights::clears_before(&step, wanted, built)? {
            for table in sql::ROLLUP_TABLES {
                tx.execute(&format!("DELETE FROM {table} WHERE store_id = $1"), &[&store]).await?;
            }
        }
        // Each table's rows in one statement over arrays (the keys of a step are unique,
        // so no row is upserted twice), and the few deletes pipelined after them.
        let daily = DailyColumns::of(&step.daily);
        let actors = DailyActorColumns::of(&step.daily_actors);
        let kept: Vec<&ActivityActorRow> = step.activity_actors.iter().filter(|r| r.statements > 0).collect();
        let activity_actors = ActivityActorColumns::of(&kept);
        let revisions = RevisionColumns::of(&step.revisions);
        for (sql, columns) in [
            (ADD_DAILY_ROWS, daily.params()),
            (ADD_DAILY_ACTOR_ROWS, actors.params()),
            (PUT_ACTIVITY_ACTOR_ROWS, activity_actors.params()),
            (ADD_REVISION_ROWS, revisions.params()),
        ] {
            if !columns.is_empty() {
                let statement = tx.prepare_cached(sql).await?;
                let mut params: Vec<Param<'_>> = vec![&store];
                params.extend(columns);
                tx.execute(&statement, &params).await?;
            }
        }
        let delete = tx.prepare_cached(sql::DELETE_ACTIVITY_ACTOR).await?;
        let drop_daily = tx.prepare_cached(sql::DROP_EMPTY_DAILY).await?;
        let drop_actor = tx.prepare_cached(sql::DROP_EMPTY_DAILY_ACTOR).await?;
        let mut calls: Vec<(&tokio_postgres::Statement, Vec<Param<'_>>)> = Vec::new();
        for r in step.activity_actors.iter().filter(|r| r.statements <= 0) {
            calls.push((&delete, vec![&store, &r.activity_id, &r.actor]));
        }
        // After the additions that emptied them.
        for d in step.daily.iter().filter(|d| d.statements <= 0) {
            calls.push((&drop_daily, vec![&store, &d.day, &d.activity_id, &d.verb_id]));
        }
        for a in step.daily_actors.iter().filter(|a| a.statements <= 0) {
            calls.push((&drop_actor, vec![&store, &a.day, &a.activity_id, &a.actor]));
        }
        futures_util::future::try_join_all(
            calls.iter().map(|(statement, params)| tx.execute(*statement, params)),
        )
        .await?;
        tx.execute(sql::SET_WATERMARK, &[&store, &step.to_seq, &step.epoch]).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl PgStore {
    /// `EXPLAIN ANALYZE` of the rollup engine's read of the statements after `after`
    /// (custom or generic plan). For the test that keeps that read to one page.
    #[doc(hidden)]
    pub async fn explain_tail(
        &self,
        store: StoreId,
        after: i64,
        limit: i64,
        generic: bool,
    ) -> Result<String, StoreError> {
        let client = self.pool.get().await?;
        super::statements::explain(
            &client,
            generic,
            true,
            sql::STATEMENTS_AFTER,
            &[store.get(), after, limit],
        )
        .await
    }
}

/// A store's rollup epoch from its row (0 for a store that does not exist).
fn epoch_of(row: Option<Row>) -> i64 {
    row.map_or(0, |r| r.get(0))
}
