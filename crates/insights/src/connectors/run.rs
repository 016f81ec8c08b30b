//! One run of a connector, by the process holding its lease: fetch what changed since the
//! cursor, page by page, each page's tickets and the cursor after them stored together;
//! then record what the run covers and when the next one is due.

use std::time::Duration;

use store::connectors::{Connector, ConnectorPage, ConnectorReader, ConnectorRun, ConnectorWriter};
use store::insights::TicketCoverage;
use store::{StoreError, StoreId, TicketWriter};
use xapi::Timestamp;

use super::http::Client;
use super::sealing::{Binding, SecretKey};
use super::vendor::{self, ticket_name};
use super::{CONNECTOR_KNOWN_THROUGH, CONNECTOR_RATE_LIMITED, CONNECTOR_RUNS, CONNECTOR_TICKETS, Kind};
use crate::import::ticket_row;
use crate::tickets::{ImportOptions, ObjectTickets};

/// How long a run holds its connector without storing a page: how soon another process
/// takes over the connector of one that died.
pub(crate) const LEASE: Duration = Duration::from_secs(300);
/// How far behind a run's start its coverage ends: Zendesk leaves out what changed in the
/// minute before a request, and the other helpdesks' search indexes lag as much.
const SETTLING: Duration = Duration::from_secs(60);
/// Refused tickets named in a run's error (all are counted).
const NAMED_REFUSALS: usize = 3;

/// Why `run_now` did not run the connector.
#[derive(Debug, thiserror::Error)]
pub enum RunNowError {
    #[error("not found")]
    NotFound,
    #[error("the connector is running already; its state shows the outcome when it ends")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs connector `id` of `store` now, whatever its schedule (unless a run is in progress),
/// and answers it as the run left it.
pub async fn run_now<S: ConnectorReader + ConnectorWriter + TicketWriter>(
    store: &S,
    store_id: StoreId,
    id: i64,
    key: &SecretKey,
) -> Result<Connector, RunNowError> {
    let listed = store.connectors(Some(store_id)).await?.into_iter().any(|c| c.id == id);
    if !listed {
        return Err(RunNowError::NotFound);
    }
    let owner = run_owner();
    let now = Timestamp::now();
    let Some(connector) = store.claim_connector(id, &owner, now, later(now, LEASE), false).await? else {
        return Err(RunNowError::Busy);
    };
    run(store, connector, key, &owner).await?;
    let after = store.connectors(Some(store_id)).await?.into_iter().find(|c| c.id == id);
    after.ok_or(RunNowError::NotFound)
}

/// A lease owner of its own for each run, so that two runs never share one, in one process
/// or several.
pub(crate) fn run_owner() -> String {
    format!("tally-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

pub(crate) fn later(at: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_micros(at.as_micros() + by.as_micros() as i64)
}

/// What a run that reached the end of the helpdesk's answer met on the way.
struct Pulled {
    fetched: u64,
    refused: Vec<String>,
    refused_count: u64,
}

/// Runs a connector whose lease `owner` holds. A helpdesk's failure is the run's outcome
/// (its `last_error`); a store's failure ends the run where it is, to be taken up again
/// once the lease runs out.
pub(crate) async fn run<S: ConnectorWriter + TicketWriter>(
    store: &S,
    connector: Connector,
    key: &SecretKey,
    owner: &str,
) -> Result<(), StoreError> {
    let labels = labels(&connector);
    let started = Timestamp::now();
    let outcome = pull(store, &connector, key, owner).await?;
    let Some(outcome) = outcome else {
        tracing::warn!(connector = connector.id, "another process took the connector over; this run stops");
        return Ok(());
    };
    let ended = Timestamp::now();
    let (error, known_through, fetched, outcome_label) = match outcome {
        Ok(pulled) => {
            let through = started.as_micros() - SETTLING.as_micros() as i64;
            let source = Kind::from_name(&connector.kind).map_or("", |k| k.preset().name()).to_string();
            store.record_coverage(connector.store, vec![TicketCoverage { source, through }]).await?;
            let known = connector.known_through.map_or(through, |old| old.max(through));
            let error = (pulled.refused_count > 0).then(|| {
                format!(
                    "{} tickets could not be read and were left out: {}",
                    pulled.refused_count,
                    pulled.refused.join("; ")
                )
            });
            (error, Some(known), pulled.fetched, "ok")
        }
        Err(error) => (Some(error), connector.known_through, 0, "failed"),
    };
    let mut run_labels = labels.clone();
    run_labels.push(("outcome", outcome_label.to_string()));
    metrics::counter!(CONNECTOR_RUNS, &run_labels).increment(1);
    if let Some(known) = known_through {
        metrics::gauge!(CONNECTOR_KNOWN_THROUGH, &labels).set(known as f64 / 1e6);
    }
    let next_run = later(ended, Duration::from_secs(connector.every_seconds.max(1) as u64));
    let run = ConnectorRun { at: ended, next_run, error: error.clone(), known_through };
    store.finish_connector_run(connector.id, owner, run).await?;
    tracing::info!(
        target: "tally::connectors",
        connector = connector.id,
        store = connector.store.get(),
        kind = connector.kind,
        fetched,
        error = error.as_deref().unwrap_or(""),
        "connector ran"
    );
    Ok(())
}

fn labels(connector: &Connector) -> Vec<(&'static str, String)> {
    vec![
        ("store", connector.store.to_string()),
        ("connector", connector.id.to_string()),
        ("kind", connector.kind.clone()),
    ]
}

/// Fetches and stores every page since the cursor. `None` when the lease was lost;
/// `Some(Err(why))` when the helpdesk failed (the pages before stay stored).
async fn pull<S: ConnectorWriter>(
    store: &S,
    connector: &Connector,
    key: &SecretKey,
    owner: &str,
) -> Result<Option<Result<Pulled, String>>, StoreError> {
    let Some(kind) = Kind::from_name(&connector.kind) else {
        return Ok(Some(Err(format!("{:?} is not a helpdesk this Tally knows", connector.kind))));
    };
    let binding = Binding { store: connector.store, kind: kind.name(), base_url: &connector.base_url };
    let authorization = match key.open(&binding, &connector.sealed_credentials).map(String::from_utf8) {
        Ok(Ok(authorization)) => authorization,
        Ok(Err(_)) | Err(_) => return Ok(Some(Err(super::SealingError::DoesNotOpen.to_string()))),
    };
    let reader =
        ObjectTickets::new(&ImportOptions::new(kind.preset())).expect("a preset's own layout is valid");
    let rate_labels = labels(connector);
    let on_rate_limit =
        Box::new(move || metrics::counter!(CONNECTOR_RATE_LIMITED, &rate_labels).increment(1));
    let mut client = Client::new(&connector.base_url, authorization, on_rate_limit);
    let ticket_labels = labels(connector);
    let mut request = vendor::first_request(kind, connector.cursor.as_deref(), &connector.filter);
    let mut pulled = Pulled { fetched: 0, refused: Vec::new(), refused_count: 0 };
    let mut row = 0;
    loop {
        let answer = match client.get(&request).await {
            Ok(answer) => answer,
            Err(error) => return Ok(Some(Err(error.0))),
        };
        let page = match vendor::read_page(kind, &request, answer) {
            Ok(page) => page,
            Err(error) => return Ok(Some(Err(format!("{}: {error}", request.path)))),
        };
        let mut tickets = Vec::with_capacity(page.tickets.len());
        for object in &page.tickets {
            row += 1;
            match reader.ticket(row, object) {
                Ok(ticket) => tickets.push(ticket_row(ticket)),
                Err(refused) => {
                    pulled.refused_count += 1;
                    if pulled.refused.len() < NAMED_REFUSALS {
                        let column = refused.column.map(|c| format!("{c}: ")).unwrap_or_default();
                        pulled.refused.push(format!("{} ({column}{})", ticket_name(object), refused.reason));
                    }
                }
            }
        }
        if let Some(cursor) = page.cursor {
            let count = tickets.len() as u64;
            let lease_until = later(Timestamp::now(), LEASE);
            if !store
                .commit_connector_page(connector.id, owner, ConnectorPage { tickets, cursor, lease_until })
                .await?
            {
                return Ok(None);
            }
            pulled.fetched += count;
            metrics::counter!(CONNECTOR_TICKETS, &ticket_labels).increment(count);
        }
        match page.next {
            Some(next) => request = next,
            None => return Ok(Some(Ok(pulled))),
        }
    }
}
