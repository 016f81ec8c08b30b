//! Erasing a person and purging on PostgreSQL: the shared algorithms (`crate::erasure`,
//! `crate::retention`), each erasure or purge batch in one transaction holding the store's
//! ingest lock, so no statement group of the store interleaves with it.

use xapi::Timestamp;

use super::PgStore;
use super::tx::PgTx;
use crate::erasure::{self, ErasureReport, Person};
use crate::retention::{self, PurgeBatch, Purger};
use crate::{PersonEraser, Seq, StoreError, StoreId};

/// Runs one maintenance step in a transaction holding the store's ingest lock, and commits
/// it (rolls it back for a dry run). A macro, not a function: the step borrows the
/// transaction it is given, which a closure's signature cannot say simply.
macro_rules! maintain {
    ($pg:expr, $store:expr, $dry_run:expr, |$tx:ident| $step:expr) => {{
        let mut client = $pg.pool.get().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock($1::int, $2::int)",
                &[&($pg.lock_namespace as i32), &($store.get() as i32)],
            )
            .await?;
        let mut $tx = PgTx::new(&transaction);
        let outcome = $step.await?;
        drop($tx);
        if $dry_run {
            transaction.rollback().await?
        } else {
            transaction.commit().await?
        }
        Ok(outcome)
    }};
}

impl PersonEraser for PgStore {
    async fn erase_person(
        &self,
        store: StoreId,
        person: Person,
        dry_run: bool,
    ) -> Result<ErasureReport, StoreError> {
        let report: Result<ErasureReport, StoreError> =
            maintain!(self, store, dry_run, |tx| erasure::erase(&mut tx, store, &person));
        report.map(|report| ErasureReport { dry_run, ..report })
    }
}

impl Purger for PgStore {
    async fn purge_statements_batch(
        &self,
        store: StoreId,
        until: Timestamp,
        after: Seq,
        dry_run: bool,
    ) -> Result<PurgeBatch, StoreError> {
        maintain!(self, store, dry_run, |tx| retention::purge_batch(&mut tx, store, until, after, dry_run))
    }

    async fn purge_tickets(
        &self,
        store: StoreId,
        created_before: i64,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        maintain!(self, store, dry_run, |tx| retention::purge_tickets(
            &mut tx,
            store,
            created_before,
            dry_run
        ))
    }
}
