//! What the LRS remembers.
//!
//! One trait surface of capabilities, each a reader or a writer ([`StatementReader`],
//! [`StatementWriter`], [`CredentialReader`], …), summed up in [`ReadStore`] (every read)
//! and [`Store`] (every read and write), and two backends behind it: [`SqliteStore`] (the
//! embedded default, one directory) and [`PgStore`] (production). Backends own their SQL
//! and their forward-only migrations; nothing outside this crate writes SQL for LRS tables.
//! Consumers ask only for the capabilities they use: a report binds on [`InsightsReader`],
//! so it cannot write; a server for a read-only replica binds on [`ReadStore`].

mod commit;
pub mod connectors;
pub mod copy;
mod documents;
pub mod erasure;
mod error;
pub mod forwarding;
mod health;
pub mod insights;
mod keys;
mod model;
mod plan;
pub mod postgres;
mod query;
mod removal;
pub mod retention;
mod sql;
pub mod sqlite;
mod tx;

use std::collections::HashMap;
use std::future::Future;

use serde_json::{Map, Value};
use uuid::Uuid;
use xapi::Timestamp;

pub use error::StoreError;
pub use health::{Health, PoolStatus, Readiness};
pub use model::{
    ATTACHMENT_CHUNK_BYTES, AttachmentContent, AttachmentInfo, AttachmentUpload, AuditEntry, AuditFilter,
    AuditPage, Credential, Cursor, DEFAULT_STORE, Document, DocumentKind, DocumentScope, DocumentWrite,
    DocumentWriteMode, NewAuditEntry, Preconditions, RetentionPolicy, Seq, StatementBatch, StatementFilter,
    StatementPage, StatementQuery, StoreId, StoreInfo, StoredStatement,
};

pub use connectors::{ConnectorReader, ConnectorWriter};
pub use forwarding::ForwardingStore;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Writes statements. Each batch is atomic: all of its statements are stored, or none.
/// The future resolves only after the transaction holding the batch has committed.
pub trait StatementWriter: Send + Sync {
    /// Stores a batch and returns the ids of its statements, in order (generated where the
    /// client gave none). A re-sent statement equivalent to the stored one is accepted
    /// and not stored again; a different statement under an existing id is a conflict.
    fn write_statements(
        &self,
        batch: StatementBatch,
    ) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;
}

/// Reads statements.
pub trait StatementReader: Send + Sync {
    /// One statement by id, voided or not (the caller decides what voiding means for
    /// the request).
    fn statement(
        &self,
        store: StoreId,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<StoredStatement>, StoreError>> + Send;

    /// A page of a filtered statement query (voided statements are never included).
    fn query_statements(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> impl Future<Output = Result<StatementPage, StoreError>> + Send;

    /// The instant up to which every acknowledged statement is visible to queries and no
    /// later commit can add one: just short of now (or of the last committed `stored`
    /// time, if later) when no write is in flight; otherwise just short of the last
    /// committed `stored` time.
    fn consistent_through(
        &self,
        store: StoreId,
    ) -> impl Future<Output = Result<Timestamp, StoreError>> + Send;

    /// What a statement query request answers with: Consistent-Through, read first so it
    /// never vouches for more than the page could see, and the page. A backend with
    /// round trips does both in as few as it can.
    fn consistent_page(
        &self,
        store: StoreId,
        query: StatementQuery,
    ) -> impl Future<Output = Result<(Timestamp, StatementPage), StoreError>> + Send {
        async move {
            let through = self.consistent_through(store).await?;
            Ok((through, self.query_statements(store, query).await?))
        }
    }
}

/// Reads API credentials (digests only, never secrets).
pub trait CredentialReader: Send + Sync {
    /// The credential with this key; `revoked` when it or its store is.
    fn credential(&self, key: &str) -> impl Future<Output = Result<Option<Credential>, StoreError>> + Send;

    /// The credentials of one store, or of every store, oldest first.
    fn list_credentials(
        &self,
        store: Option<StoreId>,
    ) -> impl Future<Output = Result<Vec<Credential>, StoreError>> + Send;
}

/// Adds, renames and revokes API credentials.
pub trait CredentialWriter: Send + Sync {
    /// Adds a credential to an existing, unrevoked store; an existing key is an error.
    fn create_credential(
        &self,
        credential: Credential,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes sure a credential with this key exists exactly as given (used for the
    /// credential configured through the environment).
    fn put_credential(&self, credential: Credential) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Renames a credential; false when no such key exists.
    fn rename_credential(
        &self,
        key: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes a credential; false when no such key exists.
    fn revoke_credential(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads the stores (tenants).
pub trait TenantReader: Send + Sync {
    /// Every store, revoked ones included, by id.
    fn stores(&self) -> impl Future<Output = Result<Vec<StoreInfo>, StoreError>> + Send;

    fn store_info(&self, id: StoreId) -> impl Future<Output = Result<Option<StoreInfo>, StoreError>> + Send;
}

/// Creates, renames and revokes stores (tenants).
pub trait TenantWriter: Send + Sync {
    fn create_store(&self, name: &str) -> impl Future<Output = Result<StoreInfo, StoreError>> + Send;

    /// Renames a store; false when there is none with this id.
    fn rename_store(&self, id: StoreId, name: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes a store: its data stays, its credentials stop working. False when there is
    /// none with this id.
    fn revoke_store(&self, id: StoreId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets how long a store keeps statements and tickets; false when there is no such store.
    fn set_retention(
        &self,
        id: StoreId,
        policy: RetentionPolicy,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads state, activity profile and agent profile documents.
pub trait DocumentReader: Send + Sync {
    /// One document.
    fn document(
        &self,
        scope: DocumentScope,
        id: String,
    ) -> impl Future<Output = Result<Option<Document>, StoreError>> + Send;

    /// The ids of the scope's documents updated after `since` (all when `None`).
    fn document_ids(
        &self,
        scope: DocumentScope,
        since: Option<Timestamp>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// Writes and deletes documents. Every write is decided and applied under a lock on its
/// document, so concurrent writers never lose an update.
pub trait DocumentWriter: Send + Sync {
    /// Stores (PUT) or merges into (POST) a document; answers the document as stored.
    fn write_document(
        &self,
        write: DocumentWrite,
    ) -> impl Future<Output = Result<Document, StoreError>> + Send;

    /// Deletes one document (absent is fine, unless a precondition says otherwise).
    fn delete_document(
        &self,
        scope: DocumentScope,
        id: String,
        preconditions: Preconditions,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every document of the scope; answers how many.
    fn delete_documents(&self, scope: DocumentScope) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Reads the activity definitions merged from accepted statements.
pub trait ActivityReader: Send + Sync {
    /// The held definitions of these activities; activities without one are absent.
    fn activity_definitions(
        &self,
        store: StoreId,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<HashMap<String, Map<String, Value>>, StoreError>> + Send;
}

/// Reads stored attachment content (stored with the statements that carried it).
pub trait AttachmentReader: Send + Sync {
    /// The stored attachments among these hashes.
    fn attachments(
        &self,
        store: StoreId,
        sha2: Vec<String>,
    ) -> impl Future<Output = Result<Vec<AttachmentInfo>, StoreError>> + Send;

    /// One piece of an attachment's content (see [`ATTACHMENT_CHUNK_BYTES`]).
    fn attachment_chunk(
        &self,
        store: StoreId,
        sha2: String,
        index: i32,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
}

/// Reads imported support tickets and what their imports cover (insights).
pub trait TicketReader: Send + Sync {
    /// Tickets matching the filter, oldest first.
    fn tickets(
        &self,
        store: StoreId,
        filter: insights::TicketFilter,
    ) -> impl Future<Output = Result<Vec<insights::TicketRow>, StoreError>> + Send;

    /// A page of every ticket, oldest first, after a cursor (for exports).
    fn ticket_page(
        &self,
        store: StoreId,
        after: Option<insights::TicketCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<insights::TicketRow>, StoreError>> + Send;

    /// What each source's imports cover, by source.
    fn coverage(
        &self,
        store: StoreId,
    ) -> impl Future<Output = Result<Vec<insights::TicketCoverage>, StoreError>> + Send;

    /// The requesters of every ticket created before `before`, each once, as their agent
    /// keys (tickets without an identifiable requester are left out).
    fn ticket_requesters(
        &self,
        store: StoreId,
        before: i64,
    ) -> impl Future<Output = Result<Vec<Vec<String>>, StoreError>> + Send;
}

/// Imports support tickets (insights).
pub trait TicketWriter: Send + Sync {
    /// Inserts or updates tickets (one per store, source and external id) in one
    /// transaction; answers (inserted, updated).
    fn upsert_tickets(
        &self,
        store: StoreId,
        tickets: Vec<insights::TicketRow>,
    ) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send;

    /// Records what imports cover, per source, in one transaction (each source keeps the
    /// later of its old and new ends).
    fn record_coverage(
        &self,
        store: StoreId,
        coverage: Vec<insights::TicketCoverage>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads learning goals and the changes recorded on them (insights).
pub trait GoalReader: Send + Sync {
    fn goal(
        &self,
        store: StoreId,
        id: &str,
    ) -> impl Future<Output = Result<Option<insights::GoalRow>, StoreError>> + Send;

    fn goals(
        &self,
        store: StoreId,
    ) -> impl Future<Output = Result<Vec<insights::GoalRow>, StoreError>> + Send;

    fn changes(
        &self,
        store: StoreId,
        goal: &str,
    ) -> impl Future<Output = Result<Vec<insights::ChangeRow>, StoreError>> + Send;
}

/// Edits learning goals and the changes recorded on them (insights).
pub trait GoalWriter: Send + Sync {
    /// Creates or replaces a goal; true when it was created.
    fn put_goal(
        &self,
        store: StoreId,
        id: &str,
        definition: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a goal and its changes; false when there was none.
    fn delete_goal(&self, store: StoreId, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a change on a goal; `NotFound` when the goal does not exist.
    fn add_change(
        &self,
        store: StoreId,
        goal: &str,
        change: insights::ChangeRow,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn delete_change(
        &self,
        store: StoreId,
        goal: &str,
        change: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads the rollups the insights engine builds (what reports and exports read) and how
/// far the engine has got.
pub trait RollupReader: Send + Sync {
    /// The place of a store's last committed statement (0 for none).
    fn ingest_head(&self, store: StoreId) -> impl Future<Output = Result<Seq, StoreError>> + Send;

    /// How far the engine has followed a store's statements (0 before it started, and
    /// while its rollups were built at an epoch other than the store's).
    fn rollup_watermark(&self, store: StoreId) -> impl Future<Output = Result<Seq, StoreError>> + Send;

    /// The store's rollup epoch: it moves when statements are erased or purged, and the
    /// rollups are then rebuilt from what remains.
    fn rollup_epoch(&self, store: StoreId) -> impl Future<Output = Result<i64, StoreError>> + Send;

    fn activity_actors(
        &self,
        store: StoreId,
        selection: insights::ActivitySelection,
    ) -> impl Future<Output = Result<Vec<insights::ActivityActorRow>, StoreError>> + Send;

    /// Every actor of any activity first seen before `before`, each once (the people the
    /// statements know of).
    fn known_actors(
        &self,
        store: StoreId,
        before: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Revision markers of the selected activities, by activity and first sighting.
    fn revisions(
        &self,
        store: StoreId,
        selection: insights::ActivitySelection,
    ) -> impl Future<Output = Result<Vec<insights::RevisionRow>, StoreError>> + Send;

    /// Daily rows of the selected activities for days in `[from_day, to_day)`.
    fn daily(
        &self,
        store: StoreId,
        selection: insights::ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> impl Future<Output = Result<Vec<insights::DailyRow>, StoreError>> + Send;

    /// Per-actor daily rows of the selected activities for days in `[from_day, to_day)`.
    fn daily_actors(
        &self,
        store: StoreId,
        selection: insights::ActivitySelection,
        from_day: i64,
        to_day: i64,
    ) -> impl Future<Output = Result<Vec<insights::DailyActorRow>, StoreError>> + Send;

    /// A page of every daily row after a cursor, in (day, activity, verb) order, for exports.
    fn daily_page(
        &self,
        store: StoreId,
        after: Option<insights::DailyCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<insights::DailyRow>, StoreError>> + Send;
}

/// Follows a store's committed statements in ingest order: what the rollup engine and
/// statement forwarding read.
pub trait StatementTail: Send + Sync {
    /// Committed statements after a place, in ingest order, voided ones included.
    fn statements_after(
        &self,
        store: StoreId,
        after: Seq,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<insights::TailedStatement>, StoreError>> + Send;
}

/// What the rollup engine alone needs: the rows a step touches, and the atomic step that
/// moves its watermark. Only the engine holds this; on a read-only replica nothing does.
pub trait RollupWriter: Send + Sync {
    /// The activity × actor rows for these pairs (those that exist).
    fn activity_actor_rows(
        &self,
        store: StoreId,
        pairs: Vec<(String, String)>,
    ) -> impl Future<Output = Result<Vec<insights::ActivityActorRow>, StoreError>> + Send;

    /// Applies one engine step in one transaction; `Conflict` when the watermark is no
    /// longer `step.from_seq` (another engine applied it). A step at an epoch the rollups
    /// were not built at clears the store's rollups first, and must start from 0.
    fn apply_rollup(
        &self,
        store: StoreId,
        step: insights::RollupStep,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Forgets a person in one store (see [`erasure`]).
pub trait PersonEraser: Send + Sync {
    /// Removes the person's statements, state and agent-profile documents and the
    /// attachments only those statements named, and replaces each of their appearances
    /// elsewhere (statements, ticket requesters, credentials acting for them) by one new
    /// pseudonym, all in one transaction; the rollups are then rebuilt. With `dry_run`
    /// nothing changes, and the answer is what would have.
    fn erase_person(
        &self,
        store: StoreId,
        person: erasure::Person,
        dry_run: bool,
    ) -> impl Future<Output = Result<erasure::ErasureReport, StoreError>> + Send;
}

/// Where `tally pull` resumes reading another LRS: per store and source (its statement
/// resource's URL), the `since` of the next read.
pub trait PullCursors: Send + Sync {
    fn pull_cursor(
        &self,
        store: StoreId,
        source: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    fn set_pull_cursor(
        &self,
        store: StoreId,
        source: &str,
        since: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Records administrative acts in the audit log, a table that erasure and retention never
/// touch. What an entry says is the caller's to keep free of secrets and of the
/// identifiers of the people the store holds data about.
pub trait AuditWriter: Send + Sync {
    /// Appends an act, stamped with the current time; answers it as recorded.
    fn record_audit(
        &self,
        entry: NewAuditEntry,
    ) -> impl Future<Output = Result<AuditEntry, StoreError>> + Send;
}

/// Reads the audit log.
pub trait AuditReader: Send + Sync {
    /// Up to `limit` entries matching the filter, newest first, below the id `before`
    /// (from the newest without one). A page's `next` continues it; entries recorded
    /// after the first page are never in the later ones.
    fn audit_page(
        &self,
        filter: AuditFilter,
        before: Option<i64>,
        limit: usize,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;
}

/// What the insights reports and exports read: rollups, tickets, goals and activity names.
pub trait InsightsReader: RollupReader + TicketReader + GoalReader + ActivityReader {}

impl<T: RollupReader + TicketReader + GoalReader + ActivityReader> InsightsReader for T {}

/// Every read a backend answers and nothing else: what a server on a read-only replica is
/// built on, so that no write path can be compiled into it.
pub trait ReadStore:
    InsightsReader
    + StatementReader
    + StatementTail
    + CredentialReader
    + TenantReader
    + DocumentReader
    + AttachmentReader
    + AuditReader
    + ConnectorReader
    + Health
    + Clone
    + 'static
{
}

/// Everything the LRS needs from a backend: every read and every write.
pub trait Store:
    ReadStore
    + ForwardingStore
    + ConnectorWriter
    + StatementWriter
    + CredentialWriter
    + TenantWriter
    + DocumentWriter
    + TicketWriter
    + GoalWriter
    + RollupWriter
    + AuditWriter
    + PersonEraser
    + retention::Purger
{
}
