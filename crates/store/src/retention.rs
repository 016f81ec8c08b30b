//! Purging what a store keeps no longer (its retention policy, or an operator's one-off
//! `DELETE /admin/statements?until=`), written once over [`Transaction`] for both backends.
//!
//! Statements stored before the cutoff go in bounded batches, each its own transaction
//! (holding the store's write lock for one batch only, and then leaving it as long again,
//! so ingest goes on between them),
//! with their index rows, the attachments no remaining statement names, and their part of
//! the rollups (each batch moves the store's rollup epoch; the engine rebuilds). A voided
//! statement and its voiding statement go together: while one of the pair is still within
//! the policy, both stay.
//!
//! `stored` never decreases with the ingest sequence, so the statements before a cutoff are
//! the first ones in ingest order: a `more` cursor stays valid across a purge (it pages on
//! from its place and simply finds fewer statements), and Consistent-Through is untouched.

use std::collections::BTreeSet;

use uuid::Uuid;
use xapi::Timestamp;

use crate::StoreError;
use crate::copy::{Cell, Kind};
use crate::model::{Seq, StoreId};
use crate::removal::{attachment_hashes, delete_statement, drop_unnamed_attachment};
use crate::tx::{Transaction, int, text};

/// Statements one purge batch removes at most: a batch holds the store's write lock for
/// about 25 ms on the embedded store (200,000 statements in batches of 500 held it 60 ms at
/// a time, back to back, and single-statement ingest waited seconds; benches/RESULTS.md).
pub const PURGE_BATCH: usize = 200;

/// One batch of a purge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeBatch {
    /// Statements removed (or, in a dry run, that would be).
    pub statements: u64,
    /// Attachments no remaining statement names any more.
    pub attachments: u64,
    /// Statements before the cutoff kept because their voiding partner is after it.
    pub kept_pairs: u64,
    /// Where the next batch starts.
    pub after: Seq,
    /// Whether no statement before the cutoff is left past `after`.
    pub done: bool,
}

/// What a whole purge did, summed over its batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub statements: u64,
    pub attachments: u64,
    pub kept_pairs: u64,
    pub tickets: u64,
}

impl PurgeReport {
    pub fn add(&mut self, batch: &PurgeBatch) {
        self.statements += batch.statements;
        self.attachments += batch.attachments;
        self.kept_pairs += batch.kept_pairs;
    }
}

/// One batch of the purge of a store's statements stored before `until`, from `after` on,
/// in the backend's open transaction (the backend commits it, or rolls a dry run back).
pub(crate) async fn purge_batch<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    until: Timestamp,
    after: Seq,
    dry_run: bool,
) -> Result<PurgeBatch, StoreError> {
    let store_cell = || Cell::Int(store.get());
    let done = PurgeBatch { after, done: true, ..PurgeBatch::default() };
    // The last statement before the cutoff: the batch reads a range of the primary key.
    let last = tx
        .query(
            "SELECT seq FROM statements WHERE store_id = $1 AND stored < $2 ORDER BY stored DESC, seq DESC LIMIT 1",
            vec![store_cell(), Cell::Int(until.as_micros())],
            &[Kind::Int],
        )
        .await?;
    let Some(cutoff) = last.first().map(|r| int(&r[0])) else { return Ok(done) };
    let rows = tx
        .query(
            "SELECT seq, body, voided_by, is_voiding, ref_id FROM statements \
             WHERE store_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            vec![store_cell(), Cell::Int(after.get()), Cell::Int(cutoff), Cell::Int(PURGE_BATCH as i64)],
            &[Kind::Int, Kind::Text, Kind::Int, Kind::Bool, Kind::Uuid],
        )
        .await?;
    let mut batch = PurgeBatch {
        after: rows.last().map_or(after, |r| Seq::new(int(&r[0]))),
        done: rows.len() < PURGE_BATCH,
        ..PurgeBatch::default()
    };
    let mut hashes = BTreeSet::new();
    for row in &rows {
        let (seq, body) = (int(&row[0]), text(&row[1]));
        let voided_later = matches!(row[2], Cell::Int(voiding) if voiding > cutoff);
        let voids_later = match (&row[3], &row[4]) {
            (Cell::Bool(true), Cell::Uuid(target)) => target_after(tx, store, *target, cutoff).await?,
            _ => false,
        };
        if voided_later || voids_later {
            batch.kept_pairs += 1;
            continue;
        }
        if !dry_run {
            delete_statement(tx, store, seq, body).await?;
        }
        hashes.extend(attachment_hashes(body));
        batch.statements += 1;
    }
    // A dry run removed nothing: it counts an attachment as going when no statement after
    // the cutoff names it.
    let named_after = if dry_run { cutoff } else { 0 };
    for sha2 in hashes {
        batch.attachments +=
            u64::from(drop_unnamed_attachment(tx, store, &sha2, named_after, dry_run).await?);
    }
    if !dry_run && batch.statements > 0 {
        tx.execute("UPDATE stores SET rollup_epoch = rollup_epoch + 1 WHERE id = $1", vec![store_cell()])
            .await?;
    }
    Ok(batch)
}

/// Whether the statement a voiding statement targets is stored after the cutoff.
async fn target_after<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    target: Uuid,
    cutoff: i64,
) -> Result<bool, StoreError> {
    let rows = tx
        .query(
            "SELECT seq FROM statements WHERE store_id = $1 AND id = $2",
            vec![Cell::Int(store.get()), Cell::Uuid(target)],
            &[Kind::Int],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| int(&r[0]) > cutoff))
}

/// Removes (or counts, for a dry run) a store's tickets created before `created_before` (µs).
pub(crate) async fn purge_tickets<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    created_before: i64,
    dry_run: bool,
) -> Result<u64, StoreError> {
    let params = vec![Cell::Int(store.get()), Cell::Int(created_before)];
    if dry_run {
        let rows = tx
            .query("SELECT COUNT(*) FROM tickets WHERE store_id = $1 AND created < $2", params, &[Kind::Int])
            .await?;
        return Ok(rows.first().map_or(0, |r| int(&r[0]) as u64));
    }
    tx.execute("DELETE FROM tickets WHERE store_id = $1 AND created < $2", params).await
}

/// The cutoff of a policy of `days`, as of `now`.
pub fn cutoff(now: Timestamp, days: u32) -> Timestamp {
    Timestamp::from_micros(now.as_micros() - i64::from(days) * 86_400_000_000)
}

/// A backend that purges, one batch per transaction.
pub trait Purger: Send + Sync {
    /// One batch of the purge of a store's statements stored before `until`, from `after`
    /// on; a dry run changes nothing and counts what it would remove.
    fn purge_statements_batch(
        &self,
        store: StoreId,
        until: Timestamp,
        after: Seq,
        dry_run: bool,
    ) -> impl std::future::Future<Output = Result<PurgeBatch, StoreError>> + Send;

    /// Removes (or counts) a store's tickets created before `created_before` (µs).
    fn purge_tickets(
        &self,
        store: StoreId,
        created_before: i64,
        dry_run: bool,
    ) -> impl std::future::Future<Output = Result<u64, StoreError>> + Send;
}

/// A whole purge of a store: its statements stored before `until` batch by batch, then its
/// tickets created before `tickets_before`, when given.
pub async fn purge<S: Purger>(
    store: &S,
    id: StoreId,
    until: Option<Timestamp>,
    tickets_before: Option<Timestamp>,
    dry_run: bool,
) -> Result<PurgeReport, StoreError> {
    let mut report = PurgeReport { dry_run, ..PurgeReport::default() };
    if let Some(until) = until {
        let mut after = Seq::default();
        loop {
            let started = std::time::Instant::now();
            let batch = store.purge_statements_batch(id, until, after, dry_run).await?;
            report.add(&batch);
            if batch.done {
                break;
            }
            after = batch.after;
            // As long again without the lock: ingest gets at least half the write time
            // while a purge runs, however long the purge.
            tokio::time::sleep(started.elapsed()).await;
        }
    }
    if let Some(before) = tickets_before {
        report.tickets = store.purge_tickets(id, before.as_micros(), dry_run).await?;
    }
    Ok(report)
}
