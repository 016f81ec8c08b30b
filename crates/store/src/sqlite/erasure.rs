//! Erasing a person and purging on SQLite: the shared algorithms (`crate::erasure`,
//! `crate::retention`), each erasure or purge batch in one immediate transaction, which
//! holds the database's write lock (statement groups wait for it). What they delete or
//! rewrite is overwritten in the file (`secure_delete`), not left in free pages.

use rusqlite::TransactionBehavior;
use xapi::Timestamp;

use super::SqliteStore;
use super::tx::{SqliteTx, run_ready};
use crate::erasure::{self, ErasureReport, Person};
use crate::retention::{self, PurgeBatch, Purger};
use crate::{PersonEraser, Seq, StoreError, StoreId};

impl SqliteStore {
    /// Runs `work` in an immediate transaction with `secure_delete` on, and commits it
    /// (rolls it back for a dry run or a failure).
    async fn maintain<T, W>(&self, dry_run: bool, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&mut SqliteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_conn(move |conn| {
            conn.pragma_update(None, "secure_delete", true)?;
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let outcome = work(&mut SqliteTx(&tx));
            let ended = match (&outcome, dry_run) {
                (Ok(_), false) => tx.commit(),
                _ => tx.rollback(),
            };
            conn.pragma_update(None, "secure_delete", false)?;
            ended?;
            outcome
        })
        .await
    }
}

impl PersonEraser for SqliteStore {
    async fn erase_person(
        &self,
        store: StoreId,
        person: Person,
        dry_run: bool,
    ) -> Result<ErasureReport, StoreError> {
        let report = self.maintain(dry_run, move |tx| run_ready(erasure::erase(tx, store, &person))).await?;
        Ok(ErasureReport { dry_run, ..report })
    }
}

impl Purger for SqliteStore {
    async fn purge_statements_batch(
        &self,
        store: StoreId,
        until: Timestamp,
        after: Seq,
        dry_run: bool,
    ) -> Result<PurgeBatch, StoreError> {
        self.maintain(dry_run, move |tx| run_ready(retention::purge_batch(tx, store, until, after, dry_run)))
            .await
    }

    async fn purge_tickets(
        &self,
        store: StoreId,
        created_before: i64,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        self.maintain(dry_run, move |tx| {
            run_ready(retention::purge_tickets(tx, store, created_before, dry_run))
        })
        .await
    }
}
