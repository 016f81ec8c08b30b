//! The scheduler inside `tally serve`: runs each connector when it is due. Several
//! processes on one database may all run it; a connector's lease lets one of them run it
//! at a time.

use std::time::Duration;

use store::connectors::{ConnectorReader, ConnectorWriter};
use store::{StoreError, TicketWriter};
use xapi::Timestamp;

use super::run::{LEASE, later, run, run_owner};
use super::sealing::SecretKey;

/// How the scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// How often it looks for connectors that are due.
    pub poll: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { poll: Duration::from_secs(1) }
    }
}

/// Runs the scheduler until the process ends. Each due connector runs in a task of its
/// own, so that a slow helpdesk holds up no other.
pub fn spawn<S>(store: S, key: SecretKey, options: SchedulerOptions) -> tokio::task::JoinHandle<()>
where
    S: ConnectorReader + ConnectorWriter + TicketWriter + Clone + 'static,
{
    tokio::spawn(async move {
        loop {
            if let Err(error) = start_due(&store, &key).await {
                tracing::warn!(%error, "the connector scheduler cannot read the connectors; retrying");
            }
            tokio::time::sleep(options.poll).await;
        }
    })
}

/// Starts a run of every connector that is due and not running.
async fn start_due<S>(store: &S, key: &SecretKey) -> Result<(), StoreError>
where
    S: ConnectorReader + ConnectorWriter + TicketWriter + Clone + 'static,
{
    let now = Timestamp::now();
    for connector in store.connectors(None).await? {
        if connector.next_run > now {
            continue;
        }
        let owner = run_owner();
        let Some(claimed) = store.claim_connector(connector.id, &owner, now, later(now, LEASE), true).await?
        else {
            continue;
        };
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move {
            if let Err(error) = run(&store, claimed, &key, &owner).await {
                tracing::warn!(%error, connector = connector.id, "a connector run stopped on a store error");
            }
        });
    }
    Ok(())
}
