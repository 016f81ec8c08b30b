//! Tickets, goals and rollups on SQLite (the SQL is shared with PostgreSQL: see
//! `crate::sql`).

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use xapi::Timestamp;

use super::SqliteStore;
use crate::insights::{
    ActivityActorRow, ActivitySelection, ChangeRow, DailyActorRow, DailyCursor, DailyRow, GoalRow,
    RevisionRow, RollupStep, TailedStatement, TicketCoverage, TicketCursor, TicketFilter, TicketRow, merged,
};
use crate::model::{Seq, StoreId};
use crate::sql::{self, for_sqlite};
use crate::{
    GoalReader, GoalWriter, RollupReader, RollupWriter, StatementTail, StoreError, TicketReader, TicketWriter,
};

fn ticket_row(r: &Row<'_>) -> rusqlite::Result<TicketRow> {
    let tags: String = r.get(6)?;
    let keys: String = r.get(9)?;
    Ok(TicketRow {
        source: r.get(0)?,
        external_id: r.get(1)?,
        created: r.get(2)?,
        resolved: r.get(3)?,
        status: r.get(4)?,
        category: r.get(5)?,
        tags: TicketRow::tags_from(&tags),
        product: r.get(7)?,
        requester: r.get(8)?,
        requester_keys: keys.split_whitespace().map(str::to_string).collect(),
        priority: r.get(10)?,
        channel: r.get(11)?,
        subject: r.get(12)?,
    })
}

impl TicketReader for SqliteStore {
    async fn tickets(&self, store: StoreId, filter: TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::TICKETS_IN_RANGE))?;
            let (from, to) = (filter.from.unwrap_or(i64::MIN), filter.to.unwrap_or(i64::MAX));
            let rows = select.query_map(params![store, from, to], ticket_row)?;
            let mut kept = Vec::new();
            for row in rows {
                let row = row?;
                if filter.keeps(&row) {
                    kept.push(row);
                }
            }
            Ok(kept)
        })
        .await
    }

    async fn ticket_page(
        &self,
        store: StoreId,
        after: Option<TicketCursor>,
        limit: usize,
    ) -> Result<Vec<TicketRow>, StoreError> {
        self.with_conn(move |conn| {
            let after = after.unwrap_or(TicketCursor {
                created: i64::MIN,
                source: String::new(),
                external_id: String::new(),
            });
            let mut select = conn.prepare_cached(&for_sqlite(sql::TICKET_PAGE))?;
            let rows = select.query_map(
                params![store, after.created, after.source, after.external_id, limit as i64],
                ticket_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn coverage(&self, store: StoreId) -> Result<Vec<TicketCoverage>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::COVERAGE))?;
            let rows = select.query_map(params![store], |r| {
                Ok(TicketCoverage { source: r.get(0)?, through: r.get(1)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn ticket_requesters(&self, store: StoreId, before: i64) -> Result<Vec<Vec<String>>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::REQUESTERS))?;
            let rows = select.query_map(params![store, before], |r| r.get::<_, String>(0))?;
            let mut requesters = Vec::new();
            for keys in rows {
                requesters.push(keys?.split_whitespace().map(str::to_string).collect());
            }
            Ok(requesters)
        })
        .await
    }
}

impl TicketWriter for SqliteStore {
    async fn upsert_tickets(
        &self,
        store: StoreId,
        tickets: Vec<TicketRow>,
    ) -> Result<(u64, u64), StoreError> {
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let counts = upsert_ticket_rows(&tx, store, &tickets)?;
            tx.commit()?;
            Ok(counts)
        })
        .await
    }

    async fn record_coverage(&self, store: StoreId, coverage: Vec<TicketCoverage>) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            {
                let mut record = tx.prepare_cached(&for_sqlite(sql::RECORD_COVERAGE))?;
                for c in &coverage {
                    record.execute(params![store, c.source, c.through])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

/// Inserts or updates tickets inside `tx`; answers (inserted, updated).
pub(super) fn upsert_ticket_rows(
    tx: &rusqlite::Transaction<'_>,
    store: StoreId,
    tickets: &[TicketRow],
) -> Result<(u64, u64), StoreError> {
    let (mut inserted, mut updated) = (0, 0);
    let mut exists = tx.prepare_cached(&for_sqlite(sql::TICKET_EXISTS))?;
    let mut upsert = tx.prepare_cached(&for_sqlite(sql::UPSERT_TICKET))?;
    let now = Timestamp::now().as_micros();
    for t in tickets {
        let existed = exists.query_row(params![store, t.source, t.external_id], |_| Ok(())).optional()?;
        upsert.execute(params![
            store,
            t.source,
            t.external_id,
            t.created,
            t.resolved,
            t.status,
            t.category,
            t.tags_column(),
            t.product,
            t.requester,
            t.requester_keys.join(" "),
            t.priority,
            t.channel,
            t.subject,
            now
        ])?;
        if existed.is_some() { updated += 1 } else { inserted += 1 }
    }
    Ok((inserted, updated))
}

fn goal_row(r: &Row<'_>) -> rusqlite::Result<GoalRow> {
    Ok(GoalRow { id: r.get(0)?, definition: r.get(1)?, created: r.get(2)?, updated: r.get(3)? })
}

impl GoalReader for SqliteStore {
    async fn goal(&self, store: StoreId, id: &str) -> Result<Option<GoalRow>, StoreError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            Ok(conn.query_row(&for_sqlite(sql::GOAL), params![store, id], goal_row).optional()?)
        })
        .await
    }

    async fn goals(&self, store: StoreId) -> Result<Vec<GoalRow>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::GOALS))?;
            Ok(select.query_map([store], goal_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn changes(&self, store: StoreId, goal: &str) -> Result<Vec<ChangeRow>, StoreError> {
        let goal = goal.to_string();
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::CHANGES))?;
            let rows = select.query_map(params![store, goal], |r| {
                Ok(ChangeRow { id: r.get(0)?, at: r.get(1)?, kind: r.get(2)?, note: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

impl GoalWriter for SqliteStore {
    async fn put_goal(&self, store: StoreId, id: &str, definition: &str) -> Result<bool, StoreError> {
        let (id, definition) = (id.to_string(), definition.to_string());
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let existed =
                tx.query_row(&for_sqlite(sql::GOAL), params![store, id], goal_row).optional()?.is_some();
            tx.execute(
                &for_sqlite(sql::PUT_GOAL),
                params![store, id, definition, Timestamp::now().as_micros()],
            )?;
            tx.commit()?;
            Ok(!existed)
        })
        .await
    }

    async fn delete_goal(&self, store: StoreId, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            tx.execute(&for_sqlite(sql::DELETE_GOAL_CHANGES), params![store, id])?;
            let deleted = tx.execute(&for_sqlite(sql::DELETE_GOAL), params![store, id])? > 0;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn add_change(&self, store: StoreId, goal: &str, change: ChangeRow) -> Result<(), StoreError> {
        let goal = goal.to_string();
        self.with_conn(move |conn| {
            let added = conn.execute(
                &for_sqlite(sql::ADD_CHANGE),
                params![store, goal, change.id, change.at, change.kind, change.note],
            )?;
            if added == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn delete_change(&self, store: StoreId, goal: &str, change: &str) -> Result<bool, StoreError> {
        let (goal, change) = (goal.to_string(), change.to_string());
        self.with_conn(move |conn| {
            Ok(conn.execute(&for_sqlite(sql::DELETE_CHANGE), params![store, goal, change])? > 0)
        })
        .await
    }
}

fn activity_actor_row(r: &Row<'_>) -> rusqlite::Result<ActivityActorRow> {
    Ok(ActivityActorRow {
        activity_id: r.get(0)?,
        actor: r.get(1)?,
        statements: r.get(2)?,
        completions: r.get(3)?,
        first_seen: r.get(4)?,
        last_seen: r.get(5)?,
        best_progress: r.get(6)?,
        segments: r.get(7)?,
        length: r.get(8)?,
    })
}

fn daily_row(r: &Row<'_>) -> rusqlite::Result<DailyRow> {
    Ok(DailyRow {
        day: r.get(0)?,
        activity_id: r.get(1)?,
        verb_id: r.get(2)?,
        statements: r.get(3)?,
        completions: r.get(4)?,
        passes: r.get(5)?,
        failures: r.get(6)?,
        scaled_sum: r.get(7)?,
        scaled_count: r.get(8)?,
        duration_ms: r.get(9)?,
    })
}

/// Runs a selection query once per listed id and once for the prefix (SQLite has no
/// arrays), in that order; callers sort or merge as they need.
fn for_each_selected<T>(
    conn: &Connection,
    sql: &str,
    selection: &ActivitySelection,
    extra: &[&dyn rusqlite::ToSql],
    store: StoreId,
    row: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut select = conn.prepare_cached(&for_sqlite(sql))?;
    let mut found = Vec::new();
    for (id, pattern) in selection.runs() {
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&store, &id, &pattern];
        params.extend_from_slice(extra);
        for item in select.query_map(params.as_slice(), &row)? {
            found.push(item?);
        }
    }
    Ok(found)
}

impl RollupReader for SqliteStore {
    async fn ingest_head(&self, store: StoreId) -> Result<Seq, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn
                .query_row(&for_sqlite(sql::INGEST_HEAD), [store], |r| r.get(0))
                .optional()?
                .unwrap_or_default())
        })
        .await
    }

    async fn rollup_watermark(&self, store: StoreId) -> Result<Seq, StoreError> {
        let wanted = self.rollup_epoch(store).await?;
        let built = self.with_rollups(move |conn| built(conn, store)).await?;
        Ok(crate::insights::effective_watermark(wanted, built))
    }

    async fn rollup_epoch(&self, store: StoreId) -> Result<i64, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.query_row(&for_sqlite(sql::ROLLUP_EPOCH), [store], |r| r.get(0)).optional()?.unwrap_or(0))
        })
        .await
    }

    async fn activity_actors(
        &self,
        store: StoreId,
        selection: ActivitySelection,
    ) -> Result<Vec<ActivityActorRow>, StoreError> {
        self.with_rollups(move |conn| {
            let rows =
                for_each_selected(conn, sql::ACTIVITY_ACTORS, &selection, &[], store, activity_actor_row)?;
            Ok(merged(rows))
        })
        .await
    }

    async fn known_actors(&self, store: StoreId, before: i64) -> Result<Vec<String>, StoreError> {
        self.with_rollups(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::KNOWN_ACTORS))?;
            let rows = select.query_map(params![store, before], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revisions(
        &self,
        store: StoreId,
        selection: ActivitySelection,
    ) -> Result<Vec<RevisionRow>, StoreError> {
        self.with_rollups(move |conn| {
            let rows = for_each_selected(conn, sql::REVISIONS, &selection, &[], store, |r| {
                Ok(RevisionRow { activity_id: r.get(0)?, marker: r.get(1)?, first_seen: r.get(2)? })
            })?;
            Ok(merged(rows))
        })
        .await
    }

    async fn daily(
        &self,
        store: StoreId,
        selection: ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DailyRow>, StoreError> {
        self.with_rollups(move |conn| {
            let rows =
                for_each_selected(conn, sql::DAILY, &selection, &[&from_day, &to_day], store, daily_row)?;
            Ok(merged(rows))
        })
        .await
    }

    async fn daily_actors(
        &self,
        store: StoreId,
        selection: ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DailyActorRow>, StoreError> {
        self.with_rollups(move |conn| {
            let rows =
                for_each_selected(conn, sql::DAILY_ACTORS, &selection, &[&from_day, &to_day], store, |r| {
                    Ok(DailyActorRow {
                        day: r.get(0)?,
                        activity_id: r.get(1)?,
                        actor: r.get(2)?,
                        statements: r.get(3)?,
                    })
                })?;
            Ok(merged(rows))
        })
        .await
    }

    async fn daily_page(
        &self,
        store: StoreId,
        after: Option<DailyCursor>,
        limit: usize,
    ) -> Result<Vec<DailyRow>, StoreError> {
        self.with_rollups(move |conn| {
            let DailyCursor { day, activity_id: activity, verb_id: verb } =
                after.unwrap_or_else(DailyCursor::start);
            let mut select = conn.prepare_cached(&for_sqlite(sql::DAILY_PAGE))?;
            let rows = select.query_map(params![store, day, activity, verb, limit as i64], daily_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

impl StatementTail for SqliteStore {
    async fn statements_after(
        &self,
        store: StoreId,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<TailedStatement>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::STATEMENTS_AFTER))?;
            let mut read = |after: Seq| -> Result<Vec<TailedStatement>, StoreError> {
                let rows = select.query_map(params![store, after, limit as i64], |r| {
                    let id: Vec<u8> = r.get(1)?;
                    Ok(TailedStatement {
                        seq: r.get(0)?,
                        id: uuid::Uuid::from_slice(&id).unwrap_or_default(),
                        body: r.get(2)?,
                        voided_by: r.get(3)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            };
            let rows = read(after)?;
            if !rows.is_empty() {
                return Ok(rows);
            }
            // The range may have fallen in a gap: read on from the next statement, if any.
            let next: Option<Seq> =
                conn.query_row(&for_sqlite(sql::NEXT_SEQ), params![store, after], |r| r.get(0))?;
            next.map_or(Ok(rows), |next| read(next.before()))
        })
        .await
    }
}

impl RollupWriter for SqliteStore {
    async fn activity_actor_rows(
        &self,
        store: StoreId,
        pairs: Vec<(String, String)>,
    ) -> Result<Vec<ActivityActorRow>, StoreError> {
        self.with_rollups(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::ACTIVITY_ACTOR))?;
            let mut found = Vec::new();
            for (activity, actor) in pairs {
                found.extend(
                    select.query_row(params![store, activity, actor], activity_actor_row).optional()?,
                );
            }
            Ok(found)
        })
        .await
    }

    async fn apply_rollup(&self, store: StoreId, step: RollupStep) -> Result<(), StoreError> {
        // The store's epoch is in the other file: an erasure committing between this read
        // and the step's commit leaves a step of the old epoch, which the next one clears.
        let wanted = self.rollup_epoch(store).await?;
        // On the rollups' own file and connection: the statement writer never waits for it.
        self.with_rollup_writer(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            if crate::insights::clears_before(&step, wanted, built(&tx, store)?)? {
                for table in sql::ROLLUP_TABLES {
                    tx.execute(&format!("DELETE FROM {table} WHERE store_id = ?1"), [store])?;
                }
            }
            {
                let mut daily = tx.prepare_cached(&for_sqlite(sql::ADD_DAILY))?;
                for d in &step.daily {
                    daily.execute(params![
                        store,
                        d.day,
                        d.activity_id,
                        d.verb_id,
                        d.statements,
                        d.completions,
                        d.passes,
                        d.failures,
                        d.scaled_sum,
                        d.scaled_count,
                        d.duration_ms
                    ])?;
                }
                let mut actors = tx.prepare_cached(&for_sqlite(sql::ADD_DAILY_ACTOR))?;
                for a in &step.daily_actors {
                    actors.execute(params![store, a.day, a.activity_id, a.actor, a.statements])?;
                }
                let mut put = tx.prepare_cached(&for_sqlite(sql::PUT_ACTIVITY_ACTOR))?;
                let mut delete = tx.prepare_cached(&for_sqlite(sql::DELETE_ACTIVITY_ACTOR))?;
                for r in &step.activity_actors {
                    if r.statements <= 0 {
                        delete.execute(params![store, r.activity_id, r.actor])?;
                    } else {
                        put.execute(params![
                            store,
                            r.activity_id,
                            r.actor,
                            r.statements,
                            r.completions,
                            r.first_seen,
                            r.last_seen,
                            r.best_progress,
                            r.segments,
                            r.length
                        ])?;
                    }
                }
                let mut revision = tx.prepare_cached(&for_sqlite(sql::ADD_REVISION))?;
                for r in &step.revisions {
                    revision.execute(params![store, r.activity_id, r.marker, r.first_seen])?;
                }
            }
            {
                let mut drop_daily = tx.prepare_cached(&for_sqlite(sql::DROP_EMPTY_DAILY))?;
                for d in step.daily.iter().filter(|d| d.statements <= 0) {
                    drop_daily.execute(params![store, d.day, d.activity_id, d.verb_id])?;
                }
                let mut drop_actor = tx.prepare_cached(&for_sqlite(sql::DROP_EMPTY_DAILY_ACTOR))?;
                for a in step.daily_actors.iter().filter(|a| a.statements <= 0) {
                    drop_actor.execute(params![store, a.day, a.activity_id, a.actor])?;
                }
            }
            tx.execute(&for_sqlite(sql::SET_WATERMARK), params![store, step.to_seq, step.epoch])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

/// Where the store's rollups stand (on a connection to the rollups' file).
fn built(conn: &Connection, store: StoreId) -> Result<crate::insights::Built, StoreError> {
    Ok(conn.query_row(&for_sqlite(sql::WATERMARK), [store], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
}
