//! Group commit: concurrent write requests share one transaction and one fsync.
//!
//! Requests queue on a channel; one task per backend takes everything queued (up to a
//! bound), writes it in a single transaction, and only then answers each request with its
//! own outcome. A batch that conflicts fails alone; the others still commit.
//!
//! The writer's work is serial, so whatever can be done elsewhere is: each requester
//! prepares its own statements (ids, stored text, index keys) before it queues, and the
//! group's statements are freed after the next group may start.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::StoreError;
use crate::model::StatementBatch;
use crate::plan::{self, Prepared};

/// Statements gathered into one transaction at most (a single larger batch still goes
/// through alone).
const MAX_GROUP_STATEMENTS: usize = 2_000;

/// Requests waiting at most; further writers wait for room (back-pressure).
const QUEUE_DEPTH: usize = 4_096;

pub(crate) type BatchOutcome = Result<Vec<Uuid>, StoreError>;

/// A backend's side of group commit: write a whole group in one transaction.
pub(crate) trait GroupWriter: Clone + Send + Sync + 'static {
    /// Groups that may be in flight at once. More than one only helps a backend whose
    /// groups serialise on a lock they take inside the transaction: the next group's
    /// connection, transaction start and lock request are then ready when the previous
    /// group commits, instead of starting after it.
    const GROUPS_IN_FLIGHT: usize = 1;

    /// Writes every batch that can be written and commits. `Ok` carries one outcome per
    /// batch; `Err` means nothing was committed.
    fn write_group(&self, group: Group)
    -> impl Future<Output = Result<Vec<BatchOutcome>, StoreError>> + Send;
}

/// The batches a writer commits together, in arrival order, each with its statements'
/// ids and [`Prepared`] forms.
pub(crate) struct Group {
    /// Shared with the commit task, which frees them once the writer is done.
    pub(crate) batches: Arc<Vec<StatementBatch>>,
    pub(crate) ids: Vec<Vec<Uuid>>,
    pub(crate) prepared: Vec<Vec<Prepared>>,
}

struct Pending {
    batch: StatementBatch,
    ids: Vec<Uuid>,
    prepared: Vec<Prepared>,
    reply: oneshot::Sender<BatchOutcome>,
    /// The requester's span (its HTTP request's), which its group's span links to.
    requester: tracing::Span,
}

/// The handle writers submit batches through.
#[derive(Clone)]
pub(crate) struct Committer {
    queue: mpsc::Sender<Pending>,
}

impl Committer {
    /// Starts the commit task on the current tokio runtime.
    pub(crate) fn spawn<W: GroupWriter>(writer: W) -> Committer {
        let (queue, requests) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(writer, requests));
        Committer { queue }
    }

    /// Prepares a batch, submits it and waits until it is committed (or refused).
    pub(crate) async fn submit(&self, batch: StatementBatch) -> BatchOutcome {
        let ids = plan::assign_ids(&batch);
        let prepared = plan::prepare(&batch, &ids);
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Pending { batch, ids, prepared, reply, requester: tracing::Span::current() })
            .await
            .map_err(|_| StoreError::Unavailable("the statement writer has stopped".into()))?;
        outcome.await.map_err(|_| StoreError::Unavailable("the statement writer has stopped".into()))?
    }
}

async fn run<W: GroupWriter>(writer: W, mut requests: mpsc::Receiver<Pending>) {
    let in_flight = Arc::new(Semaphore::new(W::GROUPS_IN_FLIGHT));
    loop {
        // Wait for a free slot before gathering, so that requests arriving meanwhile
        // join this group rather than waiting behind it.
        let Ok(slot) = in_flight.clone().acquire_owned().await else { return };
        let Some(first) = requests.recv().await else { return };
        let mut count = first.batch.statements.len();
        let mut group = vec![first];
        while count < MAX_GROUP_STATEMENTS {
            match requests.try_recv() {
                Ok(next) => {
                    count += next.batch.statements.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        tokio::spawn(commit_group(writer.clone(), group, slot));
    }
}

/// Writes one group, lets the next one start, and answers each of its requests.
async fn commit_group<W: GroupWriter>(writer: W, pending: Vec<Pending>, slot: OwnedSemaphorePermit) {
    let size = pending.len();
    // One span per group, linked from each request it serves, so a slow request's trace
    // leads to the group that held it (backends record their lock wait and commit in it).
    let span = tracing::info_span!(
        "statement_group",
        batches = size,
        statements = pending.iter().map(|p| p.batch.statements.len()).sum::<usize>(),
        refused = tracing::field::Empty,
        lock_wait_us = tracing::field::Empty,
        commit_us = tracing::field::Empty,
        attempts = tracing::field::Empty,
    );
    for p in &pending {
        span.follows_from(&p.requester);
    }
    let (mut batches, mut ids, mut prepared, mut replies) = (
        Vec::with_capacity(size),
        Vec::with_capacity(size),
        Vec::with_capacity(size),
        Vec::with_capacity(size),
    );
    for p in pending {
        batches.push(p.batch);
        ids.push(p.ids);
        prepared.push(p.prepared);
        replies.push(p.reply);
    }
    // The statements are freed at the end of this task, after the next group may start:
    // a batch is a tree of many small allocations, and freeing it is not the writer's work.
    let batches = Arc::new(batches);
    let group = Group { batches: batches.clone(), ids, prepared };
    // A task of its own, so that even a panic fails only this group, not the writer.
    let written = tokio::spawn(async move { writer.write_group(group).await }.instrument(span.clone()))
        .await
        .unwrap_or_else(|e| Err(StoreError::Backend(format!("the statement writer failed: {e}"))));
    drop(slot);
    match written {
        Ok(outcomes) => {
            span.record("refused", outcomes.iter().filter(|o| o.is_err()).count());
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The requester may have gone away; its batch is committed regardless.
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::warn!(%error, batches = size, "statement group not committed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
