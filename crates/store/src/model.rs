//! The values that cross the storage traits.

use serde_json::Value;
use std::sync::Arc;

use uuid::Uuid;
use xapi::{AgentKey, Statement, Timestamp, Version};

/// A number the database keeps, with a meaning of its own: it reads, prints and binds (in
/// both backends) as the number.
macro_rules! database_number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(number: i64) -> $name {
                $name(number)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<$name, Self::Err> {
                text.parse().map($name)
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.0.into())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<$name> {
                i64::column_result(value).map($name)
            }
        }

        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut tokio_postgres::types::private::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <i64 as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<$name, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <i64 as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

database_number! {
    /// A store (tenant): every statement, document, credential, ticket and goal belongs to
    /// exactly one. Its number is the database's.
    StoreId
}

database_number! {
    /// A statement's place in its store's ingest order: dense and increasing (gaps only where
    /// statements were removed), 0 before the first. The engine's watermark, the ingest head
    /// and query cursors are such places.
    Seq
}

impl Seq {
    /// The place just before this one: where a read that must include this place starts.
    pub const fn before(self) -> Seq {
        Seq(self.0 - 1)
    }

    /// How many places this one is past `earlier` (0 when it is not).
    pub fn since(self, earlier: Seq) -> i64 {
        (self.0 - earlier.0).max(0)
    }
}

/// The store every fresh installation starts with.
pub const DEFAULT_STORE: StoreId = StoreId(1);

/// Statements to store in one atomic step, with the authority that sent them.
#[derive(Clone, Debug)]
pub struct StatementBatch {
    pub store: StoreId,
    /// The xAPI version of the request (decides the default statement `version`).
    pub version: Version,
    /// The `authority` every statement gets (from the credential).
    pub authority: Value,
    /// Whether the statements' Activity definitions update the ones the LRS holds: only
    /// for credentials with the `define` scope (xAPI 1.0.3 Communication §4.2).
    pub define: bool,
    /// Whether each statement keeps the `stored` time it carries instead of getting one
    /// now: for an operator's migration from another LRS (`tally pull --keep-stored`),
    /// never for a client's request. The times must come in order and none may be earlier
    /// than what the store holds, so `stored` still never decreases with ingest order.
    pub keep_stored: bool,
    pub statements: Vec<Statement>,
    /// The attachment content that arrived with the statements (multipart requests).
    /// Stored with the batch, once per hash per store.
    pub attachments: Vec<AttachmentUpload>,
}

/// Attachment content received with a batch.
#[derive(Clone, Debug)]
pub struct AttachmentUpload {
    /// SHA-256 of the content, lowercase hex (the attachment's `sha2`).
    pub sha2: String,
    pub content_type: String,
    pub length: u64,
    pub content: AttachmentContent,
}

/// Where received attachment content is: small parts in memory, large ones spooled to a
/// temporary file (deleted when the last reference goes).
#[derive(Clone, Debug)]
pub enum AttachmentContent {
    Memory(Arc<[u8]>),
    File(Arc<tempfile::TempPath>),
}

impl AttachmentContent {
    /// The content in pieces of at most [`ATTACHMENT_CHUNK_BYTES`], read one at a time, so
    /// a large attachment never sits whole in memory.
    pub(crate) fn pieces(&self) -> Result<Pieces<'_>, crate::StoreError> {
        Ok(match self {
            AttachmentContent::Memory(bytes) => Pieces::Memory(bytes.chunks(ATTACHMENT_CHUNK_BYTES)),
            AttachmentContent::File(path) => {
                let file = std::fs::File::open::<&std::path::Path>(path.as_ref()).map_err(spool_error)?;
                Pieces::File(file)
            }
        })
    }
}

fn spool_error(e: std::io::Error) -> crate::StoreError {
    crate::StoreError::Backend(format!("cannot read a spooled attachment: {e}"))
}

/// See [`AttachmentContent::pieces`].
pub(crate) enum Pieces<'a> {
    Memory(std::slice::Chunks<'a, u8>),
    File(std::fs::File),
}

impl Iterator for Pieces<'_> {
    type Item = Result<Vec<u8>, crate::StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Pieces::Memory(chunks) => chunks.next().map(|c| Ok(c.to_vec())),
            Pieces::File(file) => {
                use std::io::Read;
                let mut buffer = Vec::with_capacity(ATTACHMENT_CHUNK_BYTES);
                match file.by_ref().take(ATTACHMENT_CHUNK_BYTES as u64).read_to_end(&mut buffer) {
                    Ok(0) => None,
                    Ok(_) => Some(Ok(buffer)),
                    Err(e) => Some(Err(spool_error(e))),
                }
            }
        }
    }
}

/// Attachments are stored (and served) in pieces of this size.
pub const ATTACHMENT_CHUNK_BYTES: usize = 1024 * 1024;

/// A stored attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub sha2: String,
    pub content_type: String,
    pub length: u64,
    /// How many pieces of [`ATTACHMENT_CHUNK_BYTES`] hold it.
    pub chunks: i32,
}

impl StatementBatch {
    pub(crate) fn authority_agents(&self) -> Vec<AgentKey> {
        xapi::authority_agents(&self.authority)
    }
}

/// A statement as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredStatement {
    /// Its place in ingest order: the order in which statements became visible.
    pub seq: Seq,
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
    /// Only statements whose authority is (or includes) this agent: what a
    /// `statements/read/mine` credential sees.
    pub authority: Option<AgentKey>,
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
    pub bound: Seq,
    /// The place of the last statement already returned.
    pub after: Seq,
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

/// A store (tenant) as the administration sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    pub id: StoreId,
    pub name: String,
    pub created: Timestamp,
    pub revoked: bool,
    pub retention: RetentionPolicy,
}

/// How long a store keeps what it is given, in days (`None`: for ever). Statements stored,
/// and tickets created, before that are purged in the background.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionPolicy {
    pub statements_days: Option<u32>,
    pub tickets_days: Option<u32>,
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
    /// The user (an Agent, as JSON) a client credential acts for: its statements' authority
    /// is then a Group of the credential's agent and this one (xAPI 1.0.3 Data §2.4.9).
    pub acts_for: Option<Value>,
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
            .field("acts_for", &self.acts_for)
            .finish_non_exhaustive()
    }
}

/// The three document resources (xAPI 1.0.3 Communication §2.3, §2.6, §2.7). The numbers
/// are stored: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum DocumentKind {
    State = 1,
    ActivityProfile = 2,
    AgentProfile = 3,
}

/// The documents of one context: an activity and/or an agent, and for state a
/// registration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentScope {
    pub store: StoreId,
    pub kind: DocumentKind,
    /// The activity id; empty for agent profiles.
    pub activity_id: String,
    /// The agent's key ([`xapi::AgentKey`]); empty for activity profiles.
    pub agent: String,
    /// State only. For one document, `None` names the document kept without a
    /// registration; for lists and bulk deletes, `None` means every registration.
    pub registration: Option<Uuid>,
}

/// A stored document: its bytes and content type exactly as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// SHA-1 of the body, hex, unquoted.
    pub etag: String,
    pub updated: Timestamp,
}

/// `If-Match` / `If-None-Match` entity tags (unquoted; `*` matches any document).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub if_match: Option<Vec<String>>,
    pub if_none_match: Option<Vec<String>>,
}

impl Preconditions {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }
}

/// How a write combines with the document already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentWriteMode {
    /// PUT: the new document replaces the old.
    Replace,
    /// POST: JSON objects merge their top-level properties, newer values winning.
    Merge,
}

/// A document write.
#[derive(Clone, Debug)]
pub struct DocumentWrite {
    pub scope: DocumentScope,
    pub id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub mode: DocumentWriteMode,
    pub preconditions: Preconditions,
    /// Replacing an existing document without `If-Match`/`If-None-Match` is a conflict
    /// (xAPI 1.0.3 Communication §3.1 for profiles).
    pub replace_needs_precondition: bool,
}

/// An administrative act to record in the audit log (see [`crate::AuditWriter`]). It says
/// who did what to which thing, and how much: never a secret, never a learner's
/// identifiers, so that it can outlive erasure and retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// The store the act concerns.
    pub store: StoreId,
    /// The credential's key, or `cli` for the operator at the console.
    pub actor: String,
    /// What was done, `noun.verb` (`store.create`, `credential.revoke`, `tickets.import`).
    pub action: String,
    /// What it was done to: a store id, a credential key, a rule id, a goal id.
    pub subject: String,
    /// Counts and other particulars, a JSON object.
    pub details: Value,
}

/// An act as the audit log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the log: later acts have larger ids.
    pub id: i64,
    /// When it was recorded, to the millisecond.
    pub at: Timestamp,
    pub store: StoreId,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: Value,
}

/// Which entries an audit read returns; every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub store: Option<StoreId>,
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Only entries recorded strictly after this instant.
    pub since: Option<Timestamp>,
    /// Only entries recorded at or before this instant.
    pub until: Option<Timestamp>,
}

/// One page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next (older) page, when there is one: pass it as `before`.
    pub next: Option<i64>,
}

impl NewAuditEntry {
    /// The entry as recorded under `id` at `at`.
    pub(crate) fn recorded(self, id: i64, at: Timestamp) -> AuditEntry {
        let NewAuditEntry { store, actor, action, subject, details } = self;
        AuditEntry { id, at, store, actor, action, subject, details }
    }
}

impl AuditPage {
    /// The page of up to `limit` entries out of `rows`, which were read with one row
    /// more than `limit` to learn whether another page follows.
    pub(crate) fn of_rows(mut rows: Vec<AuditEntry>, limit: usize) -> AuditPage {
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            rows.last().map_or(0, |last| last.id)
        });
        AuditPage { entries: rows, next }
    }
}

/// The time an act is recorded at: now, in whole milliseconds, the precision RFC 3339 times
/// are shown with, so a time read from the log selects exactly as `since` or `until`.
pub(crate) fn audit_now() -> Timestamp {
    Timestamp::from_micros(Timestamp::now().as_micros().div_euclid(1000) * 1000)
}

/// An entry's details as kept (JSON text) read back; text that is not JSON (written by
/// hand into the table) is shown as the string it is rather than hiding the entry.
pub(crate) fn audit_details(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}
