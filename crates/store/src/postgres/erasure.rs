//! Erasing a person on PostgreSQL: the shared algorithm (`crate::erasure`) in one
//! transaction holding the store's ingest lock, so no statement group of the store
//! interleaves with it.

use super::PgStore;
use super::tx::PgTx;
use crate::erasure::{self, ErasureReport, Person};
use crate::{PersonEraser, StoreError, StoreId};

impl PersonEraser for PgStore {
    async fn erase_person(
        &self,
        store: StoreId,
        person: Person,
        dry_run: bool,
    ) -> Result<ErasureReport, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)",
            &[&(self.lock_namespace as i32), &(store.get() as i32)],
        )
        .await?;
        let mut report = erasure::erase(&mut PgTx::new(&tx), store, &person).await?;
        report.dry_run = dry_run;
        if dry_run {
            tx.rollback().await?
        } else {
            tx.commit().await?
        }
        Ok(report)
    }
}
