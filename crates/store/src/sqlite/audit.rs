//! The audit log on SQLite (its SQL is `crate::sql`'s).

use rusqlite::params;
use xapi::Timestamp;

use super::SqliteStore;
use crate::model::{AuditEntry, AuditFilter, AuditPage, NewAuditEntry, audit_details, audit_now};
use crate::sql::{self, for_sqlite};
use crate::{AuditReader, AuditWriter, StoreError};

impl AuditWriter for SqliteStore {
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let at = audit_now();
        self.with_conn(move |conn| {
            let id = conn.query_row(
                &for_sqlite(sql::RECORD_AUDIT),
                params![
                    at.as_micros(),
                    entry.store,
                    entry.actor,
                    entry.action,
                    entry.subject,
                    entry.details.to_string()
                ],
                |r| r.get(0),
            )?;
            Ok(entry.recorded(id, at))
        })
        .await
    }
}

impl AuditReader for SqliteStore {
    async fn audit_page(
        &self,
        filter: AuditFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::AUDIT_PAGE))?;
            let rows = select.query_map(
                params![
                    filter.store,
                    filter.action,
                    filter.actor,
                    filter.since.map(Timestamp::as_micros),
                    filter.until.map(Timestamp::as_micros),
                    before,
                    limit as i64 + 1
                ],
                |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: Timestamp::from_micros(r.get(1)?),
                        store: r.get(2)?,
                        actor: r.get(3)?,
                        action: r.get(4)?,
                        subject: r.get(5)?,
                        details: audit_details(r.get(6)?),
                    })
                },
            )?;
            Ok(AuditPage::of_rows(rows.collect::<Result<_, _>>()?, limit))
        })
        .await
    }
}
