//! Helpdesk connectors, as the store keeps them: where a store's tickets are pulled from,
//! how often, how far the pull has got (the helpdesk's own cursor) and how the last run went.
//!
//! The store never sees a helpdesk credential in clear: it keeps the bytes it is given
//! (`insights::connectors` seals them). A page of tickets and the cursor after it are
//! committed in one transaction, so the cursor is never ahead of the stored tickets, and a
//! run that dies resumes from the last page it stored.

use std::future::Future;

use xapi::Timestamp;

use crate::insights::TicketRow;
use crate::{StoreError, StoreId};

/// A connector and the state of its runs.
#[derive(Clone, PartialEq, Eq)]
pub struct Connector {
    pub id: i64,
    pub store: StoreId,
    /// Which helpdesk: `zendesk`, `servicenow` or `jira`.
    pub kind: String,
    /// The helpdesk's address (`https://acme.zendesk.com`).
    pub base_url: String,
    /// The helpdesk credentials, sealed; only the holder of the key opens them.
    pub sealed_credentials: Vec<u8>,
    /// Seconds between scheduled runs.
    pub every_seconds: i64,
    /// The helpdesk query that narrows what is pulled (empty: everything).
    pub filter: String,
    pub created: Timestamp,
    /// Where the next run starts, in the helpdesk's terms; `None` before the first page.
    pub cursor: Option<String>,
    pub last_run: Option<Timestamp>,
    pub next_run: Timestamp,
    /// Why the last run failed, or which tickets it could not read; `None` when it went well.
    pub last_error: Option<String>,
    /// Tickets stored by every run so far.
    pub tickets_fetched: u64,
    /// Every ticket of the helpdesk created at or before this instant (microseconds) is
    /// stored: the coverage reports use.
    pub known_through: Option<i64>,
}

impl std::fmt::Debug for Connector {
    /// Everything but the sealed credentials, which are no one's business in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("id", &self.id)
            .field("store", &self.store)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("every_seconds", &self.every_seconds)
            .field("filter", &self.filter)
            .field("cursor", &self.cursor)
            .field("last_run", &self.last_run)
            .field("next_run", &self.next_run)
            .field("last_error", &self.last_error)
            .field("tickets_fetched", &self.tickets_fetched)
            .field("known_through", &self.known_through)
            .finish_non_exhaustive()
    }
}

/// A connector to add. Its first scheduled run is one `every_seconds` after it is created.
#[derive(Clone)]
pub struct NewConnector {
    pub store: StoreId,
    pub kind: String,
    pub base_url: String,
    pub sealed_credentials: Vec<u8>,
    pub every_seconds: i64,
    pub filter: String,
}

/// A page a run fetched: its tickets and the helpdesk's cursor just after them.
#[derive(Clone, Debug)]
pub struct ConnectorPage {
    pub tickets: Vec<TicketRow>,
    pub cursor: String,
    /// The lease is renewed until then.
    pub lease_until: Timestamp,
}

impl std::fmt::Debug for NewConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnector")
            .field("store", &self.store)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("every_seconds", &self.every_seconds)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct ConnectorRun {
    pub at: Timestamp,
    pub next_run: Timestamp,
    pub error: Option<String>,
    pub known_through: Option<i64>,
}

/// Reads the connectors.
pub trait ConnectorReader: Send + Sync {
    /// The connectors of one store, or of every store, by id.
    fn connectors(
        &self,
        store: Option<StoreId>,
    ) -> impl Future<Output = Result<Vec<Connector>, StoreError>> + Send;
}

/// Adds, deletes and runs connectors.
pub trait ConnectorWriter: Send + Sync {
    fn create_connector(
        &self,
        connector: NewConnector,
    ) -> impl Future<Output = Result<Connector, StoreError>> + Send;

    /// Deletes a connector (its tickets stay); false when the store has no such connector.
    fn delete_connector(
        &self,
        store: StoreId,
        id: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes the lease of connector `id` for `owner` until `until` when no other owner's
    /// lease runs and, if `only_when_due`, its next run is at or before `now`; the connector
    /// as it then is, or `None`.
    fn claim_connector(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        only_when_due: bool,
    ) -> impl Future<Output = Result<Option<Connector>, StoreError>> + Send;

    /// Stores a page's tickets (inserted or updated in place) and moves the cursor past
    /// them, in one transaction, renewing the lease; false, and nothing stored, when `owner`
    /// no longer holds the lease.
    fn commit_connector_page(
        &self,
        id: i64,
        owner: &str,
        page: ConnectorPage,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records how a run ended and releases the lease; false when `owner` no longer held it.
    fn finish_connector_run(
        &self,
        id: i64,
        owner: &str,
        run: ConnectorRun,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
