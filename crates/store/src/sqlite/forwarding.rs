//! Forwarding rules on SQLite (their SQL is `crate::sql`'s).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use xapi::Timestamp;

use super::SqliteStore;
use crate::forwarding::{DeadLetter, ForwardingRule, ForwardingStore, NewForwarding, filter_of, verbs_text};
use crate::sql::{self, for_sqlite};
use crate::{Seq, StoreError, StoreId};

fn rule_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ForwardingRule> {
    let (verbs, prefix): (String, String) = (r.get(5)?, r.get(6)?);
    Ok(ForwardingRule {
        id: r.get(0)?,
        store: r.get(1)?,
        url: r.get(2)?,
        key: r.get(3)?,
        secret: r.get(4)?,
        filter: filter_of(&verbs, &prefix),
        enabled: r.get(7)?,
        max_attempts: r.get(8)?,
        created: Timestamp::from_micros(r.get(9)?),
        delivered: r.get(10)?,
        failures: r.get(11)?,
        last_error: r.get(12)?,
        next_attempt: Timestamp::from_micros(r.get(13)?),
        dead_letters: r.get::<_, i64>(14)? as u64,
    })
}

fn rule_by_id(conn: &rusqlite::Connection, id: i64) -> Result<Option<ForwardingRule>, StoreError> {
    Ok(conn.query_row(&for_sqlite(sql::FORWARDING_RULE), [id], rule_row).optional()?)
}

impl ForwardingStore for SqliteStore {
    async fn create_forwarding(&self, rule: NewForwarding) -> Result<ForwardingRule, StoreError> {
        self.with_conn(move |conn| {
            let id: i64 = conn.query_row(
                &for_sqlite(sql::CREATE_FORWARDING),
                params![
                    rule.store,
                    rule.url,
                    rule.key,
                    rule.secret,
                    verbs_text(&rule.filter),
                    rule.filter.activity_prefix.clone().unwrap_or_default(),
                    rule.max_attempts,
                    Timestamp::now().as_micros()
                ],
                |r| r.get(0),
            )?;
            rule_by_id(conn, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn forwarding_rules(&self, store: Option<StoreId>) -> Result<Vec<ForwardingRule>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::FORWARDING_RULES))?;
            Ok(select.query_map([store], rule_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn delete_forwarding(&self, store: StoreId, id: i64) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let deleted = tx.execute(&for_sqlite(sql::DELETE_FORWARDING), params![store, id])? > 0;
            if deleted {
                tx.execute(&for_sqlite(sql::DELETE_DEAD_LETTERS), [id])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn enable_forwarding(&self, store: StoreId, id: i64, enabled: bool) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute(&for_sqlite(sql::ENABLE_FORWARDING), params![store, id, enabled])? > 0)
        })
        .await
    }

    async fn claim_forwarding(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ForwardingRule>, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let claimed = conn.execute(
                &for_sqlite(sql::CLAIM_FORWARDING),
                params![id, owner, now.as_micros(), until.as_micros()],
            )?;
            if claimed == 0 { Ok(None) } else { rule_by_id(conn, id) }
        })
        .await
    }

    async fn advance_forwarding(
        &self,
        id: i64,
        owner: &str,
        from: Seq,
        to: Seq,
        dead: Vec<DeadLetter>,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let moved = tx.execute(&for_sqlite(sql::ADVANCE_FORWARDING), params![id, owner, from, to])? > 0;
            if moved {
                let mut add = tx.prepare_cached(&for_sqlite(sql::ADD_DEAD_LETTER))?;
                for letter in dead {
                    add.execute(params![
                        id,
                        letter.seq,
                        letter.statement,
                        letter.error,
                        letter.at.as_micros()
                    ])?;
                }
            }
            tx.commit()?;
            Ok(moved)
        })
        .await
    }

    async fn fail_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next: Timestamp,
    ) -> Result<u32, StoreError> {
        let (owner, error) = (owner.to_string(), error.to_string());
        self.with_conn(move |conn| {
            let failures: Option<u32> = conn
                .query_row(
                    &for_sqlite(sql::FAIL_FORWARDING),
                    params![id, owner, error, next.as_micros()],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(failures.unwrap_or(0))
        })
        .await
    }

    async fn hold_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next: Timestamp,
    ) -> Result<(), StoreError> {
        let (owner, error) = (owner.to_string(), error.to_string());
        self.with_conn(move |conn| {
            conn.execute(&for_sqlite(sql::HOLD_FORWARDING), params![id, owner, error, next.as_micros()])?;
            Ok(())
        })
        .await
    }

    async fn dead_letters(&self, store: StoreId, id: i64) -> Result<Vec<DeadLetter>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::DEAD_LETTERS))?;
            let rows = select.query_map(params![store, id], |r| {
                Ok(DeadLetter {
                    seq: r.get(0)?,
                    statement: r.get(1)?,
                    error: r.get(2)?,
                    at: Timestamp::from_micros(r.get(3)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
