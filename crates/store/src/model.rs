//! The values that cross the storage traits.

use serde_json::Value;
use uuid::Uuid;
use xapi::{AgentKey, Statement, Timestamp, Version};

/// A tenant. Every statement, document and credential belongs to exactly one store.
pub type StoreId = i64;

/// The store every fresh installation starts with.
pub const DEFAULT_STORE: StoreId = 1;

/// How a statement batch arrived: `PUT` names one id; `POST` may name ids or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Put,
    Post,
}

/// Statements to store in one atomic step, with the authority that sent them.
#[derive(Clone, Debug)]
pub struct StatementBatch {
    pub store: StoreId,
    pub mode: WriteMode,
    /// The xAPI version of the request (decides the default statement `version`).
    pub version: Version,
    /// The `authority` every statement gets (from the credential).
    pub authority: Value,
    pub statements: Vec<Statement>,
}

impl StatementBatch {
    pub(crate) fn authority_key(&self) -> Option<AgentKey> {
        self.authority.as_object().and_then(AgentKey::of)
    }
}

/// A statement as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredStatement {
    /// Ingest sequence number: the order in which statements became visible.
    pub seq: i64,
    pub id: Uuid,
    pub stored: Timestamp,
    /// The full JSON text as stored (the client's statement plus the LRS's properties).
    pub body: String,
    /// Whether a voiding statement has voided this one.
    pub voided: bool,
}

/// The filters of a statement query (xAPI 1.0.3 Communication §2.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementFilter {
    pub agent: Option<AgentKey>,
    pub verb: Option<String>,
    pub activity: Option<String>,
    pub registration: Option<Uuid>,
    pub related_agents: bool,
    pub related_activities: bool,
    /// Only statements stored strictly after this instant.
    pub since: Option<Timestamp>,
    /// Only statements stored at or before this instant.
    pub until: Option<Timestamp>,
}

/// Where a page of a result set starts: the snapshot the first page saw and the last
/// position already returned. Carried inside `more` tokens, so paging needs no server state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The highest sequence number visible when the first page was read; later writes are
    /// outside the result set.
    pub bound: i64,
    /// The sequence number of the last statement already returned.
    pub after: i64,
}

/// A statement query: filters, order, page size, and where to resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementQuery {
    pub filter: StatementFilter,
    pub ascending: bool,
    /// Statements per page (at least 1; the server applies its own maximum).
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// One page of a statement query.
#[derive(Clone, Debug)]
pub struct StatementPage {
    pub statements: Vec<StoredStatement>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

/// An API credential: HTTP Basic key and the SHA-256 digest of its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub key: String,
    pub store: StoreId,
    pub name: String,
    pub scopes: Vec<String>,
    pub secret_sha256: [u8; 32],
    pub created: Timestamp,
    pub revoked: bool,
}

impl std::fmt::Debug for Credential {
    // The digest is not a secret, but it is kept out of logs all the same.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("key", &self.key)
            .field("store", &self.store)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}
