//! The audit log on PostgreSQL (its SQL is `crate::sql`'s).

use xapi::Timestamp;

use super::PgStore;
use crate::model::{AuditEntry, AuditFilter, AuditPage, NewAuditEntry, audit_details, audit_now};
use crate::sql;
use crate::{AuditReader, AuditWriter, StoreError};

impl AuditWriter for PgStore {
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let at = audit_now();
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                sql::RECORD_AUDIT,
                &[
                    &at.as_micros(),
                    &entry.store,
                    &entry.actor,
                    &entry.action,
                    &entry.subject,
                    &entry.details.to_string(),
                ],
            )
            .await?
            .get(0);
        Ok(entry.recorded(id, at))
    }
}

impl AuditReader for PgStore {
    async fn audit_page(
        &self,
        filter: AuditFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                sql::AUDIT_PAGE,
                &[
                    &filter.store,
                    &filter.action,
                    &filter.actor,
                    &filter.since.map(Timestamp::as_micros),
                    &filter.until.map(Timestamp::as_micros),
                    &before,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: Timestamp::from_micros(r.get(1)),
                store: r.get(2),
                actor: r.get(3),
                action: r.get(4),
                subject: r.get(5),
                details: audit_details(r.get(6)),
            })
            .collect();
        Ok(AuditPage::of_rows(entries, limit))
    }
}
