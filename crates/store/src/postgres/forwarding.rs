//! Forwarding rules on PostgreSQL (their SQL is `crate::sql`'s).

use tokio_postgres::Row;
use xapi::Timestamp;

use super::PgStore;
use crate::forwarding::{DeadLetter, ForwardingRule, ForwardingStore, NewForwarding, filter_of, verbs_text};
use crate::sql;
use crate::{Seq, StoreError, StoreId};

fn rule_row(r: &Row) -> ForwardingRule {
    let (verbs, prefix): (String, String) = (r.get(5), r.get(6));
    ForwardingRule {
        id: r.get(0),
        store: r.get(1),
        url: r.get(2),
        key: r.get(3),
        secret: r.get(4),
        filter: filter_of(&verbs, &prefix),
        enabled: r.get(7),
        max_attempts: r.get::<_, i64>(8) as u32,
        created: Timestamp::from_micros(r.get(9)),
        delivered: r.get(10),
        failures: r.get::<_, i64>(11) as u32,
        last_error: r.get(12),
        next_attempt: Timestamp::from_micros(r.get(13)),
        dead_letters: r.get::<_, i64>(14) as u64,
    }
}

impl PgStore {
    async fn forwarding_rule(&self, id: i64) -> Result<Option<ForwardingRule>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::FORWARDING_RULE, &[&id]).await?.as_ref().map(rule_row))
    }
}

impl ForwardingStore for PgStore {
    async fn create_forwarding(&self, rule: NewForwarding) -> Result<ForwardingRule, StoreError> {
        let client = self.pool.get().await?;
        let (verbs, prefix) =
            (verbs_text(&rule.filter), rule.filter.activity_prefix.clone().unwrap_or_default());
        let id: i64 = client
            .query_one(
                sql::CREATE_FORWARDING,
                &[
                    &rule.store,
                    &rule.url,
                    &rule.key,
                    &rule.secret,
                    &verbs,
                    &prefix,
                    &i64::from(rule.max_attempts),
                    &Timestamp::now().as_micros(),
                ],
            )
            .await?
            .get(0);
        drop(client);
        self.forwarding_rule(id).await?.ok_or(StoreError::NotFound)
    }

    async fn forwarding_rules(&self, store: Option<StoreId>) -> Result<Vec<ForwardingRule>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query(sql::FORWARDING_RULES, &[&store]).await?.iter().map(rule_row).collect())
    }

    async fn delete_forwarding(&self, store: StoreId, id: i64) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let deleted = tx.execute(sql::DELETE_FORWARDING, &[&store, &id]).await? > 0;
        if deleted {
            tx.execute(sql::DELETE_DEAD_LETTERS, &[&id]).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn enable_forwarding(&self, store: StoreId, id: i64, enabled: bool) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::ENABLE_FORWARDING, &[&store, &id, &enabled]).await? > 0)
    }

    async fn claim_forwarding(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ForwardingRule>, StoreError> {
        let client = self.pool.get().await?;
        let claimed = client
            .execute(sql::CLAIM_FORWARDING, &[&id, &owner, &now.as_micros(), &until.as_micros()])
            .await?;
        drop(client);
        if claimed == 0 { Ok(None) } else { self.forwarding_rule(id).await }
    }

    async fn advance_forwarding(
        &self,
        id: i64,
        owner: &str,
        from: Seq,
        to: Seq,
        dead: Vec<DeadLetter>,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let moved = tx.execute(sql::ADVANCE_FORWARDING, &[&id, &owner, &from, &to]).await? > 0;
        if moved {
            let add = tx.prepare_cached(sql::ADD_DEAD_LETTER).await?;
            for letter in dead {
                tx.execute(
                    &add,
                    &[&id, &letter.seq, &letter.statement, &letter.error, &letter.at.as_micros()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn fail_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next: Timestamp,
    ) -> Result<u32, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt(sql::FAIL_FORWARDING, &[&id, &owner, &error, &next.as_micros()]).await?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u32))
    }

    async fn hold_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.execute(sql::HOLD_FORWARDING, &[&id, &owner, &error, &next.as_micros()]).await?;
        Ok(())
    }

    async fn dead_letters(&self, store: StoreId, id: i64) -> Result<Vec<DeadLetter>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::DEAD_LETTERS, &[&store, &id]).await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetter {
                seq: r.get(0),
                statement: r.get(1),
                error: r.get(2),
                at: Timestamp::from_micros(r.get(3)),
            })
            .collect())
    }
}
