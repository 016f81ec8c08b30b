//! Erasing a person on SQLite: the shared algorithm (`crate::erasure`) in one immediate
//! transaction, which holds the database's write lock (statement groups wait for it).

use rusqlite::TransactionBehavior;

use super::SqliteStore;
use super::tx::{SqliteTx, run_ready};
use crate::erasure::{self, ErasureReport, Person};
use crate::{PersonEraser, StoreError, StoreId};

impl PersonEraser for SqliteStore {
    async fn erase_person(
        &self,
        store: StoreId,
        person: Person,
        dry_run: bool,
    ) -> Result<ErasureReport, StoreError> {
        self.with_conn(move |conn| {
            // What is deleted or rewritten is overwritten in the file, not left in free pages.
            conn.pragma_update(None, "secure_delete", true)?;
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let mut report = run_ready(erasure::erase(&mut SqliteTx(&tx), store, &person))?;
            report.dry_run = dry_run;
            if dry_run {
                tx.rollback()?
            } else {
                tx.commit()?
            }
            conn.pragma_update(None, "secure_delete", false)?;
            Ok(report)
        })
        .await
    }
}
