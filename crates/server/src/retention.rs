//! The retention worker: every `interval`, each store with a retention policy loses the
//! statements stored, and the tickets created, before its cutoff (`store::retention`: in
//! bounded batches, one transaction each, so ingest goes on between them). Several
//! processes may run it on one database: a purge that finds nothing left does nothing.

use std::time::Duration;

use store::retention::{self, PurgeReport, Purger};
use store::{AuditWriter, StoreError, StoreInfo, TenantReader};
use xapi::Timestamp;

use crate::audit;

/// The audit log's actor for purges the policy makes.
pub const POLICY: &str = "retention";

/// Runs the worker until the process ends.
pub fn spawn<S>(store: S, interval: Duration) -> tokio::task::JoinHandle<()>
where
    S: Purger + TenantReader + AuditWriter + 'static,
{
    tokio::spawn(async move {
        loop {
            if let Err(error) = purge_every_store(&store).await {
                tracing::warn!(%error, "a retention purge failed; it runs again at the next interval");
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// One pass: every store's policy applied once.
pub async fn purge_every_store<S: Purger + TenantReader + AuditWriter>(store: &S) -> Result<(), StoreError> {
    for info in store.stores().await? {
        let report = apply_policy(store, &info, Timestamp::now()).await?;
        if report.statements + report.tickets > 0 {
            tracing::info!(
                store = info.id.get(),
                statements = report.statements,
                tickets = report.tickets,
                "retention purge"
            );
            audit::record_by(store, POLICY, audit::PURGE, info.id, "", audit::purge_details(&report)).await;
        }
    }
    Ok(())
}

/// Applies a store's retention policy as of `now`.
async fn apply_policy<S: Purger>(
    store: &S,
    info: &StoreInfo,
    now: Timestamp,
) -> Result<PurgeReport, StoreError> {
    let policy = info.retention;
    let statements = policy.statements_days.map(|days| retention::cutoff(now, days));
    let tickets = policy.tickets_days.map(|days| retention::cutoff(now, days));
    if statements.is_none() && tickets.is_none() {
        return Ok(PurgeReport::default());
    }
    retention::purge(store, info.id, statements, tickets, false).await
}
