//! Recording administrative acts in the audit log (`store::AuditWriter`), for every handler
//! and command that performs one.
//!
//! An act is recorded after it committed. When recording fails, the failure is logged as an
//! error and the act still answers success: it did happen, and answering an error would
//! invite a retry that does it twice. A log error (and the gap in the audit log) is what an
//! operator watches for.
//!
//! What an entry carries is chosen here and by the callers with one rule: never a secret
//! (a credential's or a forwarding target's), never an identifier of a person the store
//! holds data about (so an entry survives that person's erasure as it is). Subjects are
//! store ids, credential keys, rule ids and goal ids; details are counts and settings.

use insights::import::ImportSummary;
use insights::tickets::ImportOptions;
use serde_json::{Value, json};
use store::forwarding::ForwardingRule;
use store::{AuditWriter, Credential, NewAuditEntry, StoreId};

use crate::auth::Principal;
use crate::bulk::ImportReport;

/// The actor of acts the operator performs with the `tally` binary on the storage itself.
pub const CONSOLE: &str = "cli";

/// Records an act `principal` performed on `store` (see the module's rules on what
/// `subject` and `details` may hold).
pub async fn record<S: AuditWriter>(
    audit: &S,
    principal: &Principal,
    action: &str,
    store: StoreId,
    subject: impl Into<String>,
    details: Value,
) {
    record_by(audit, &principal.key, action, store, subject, details).await;
}

/// [`record`] for an actor named otherwise: [`CONSOLE`], for one.
pub async fn record_by<S: AuditWriter>(
    audit: &S,
    actor: &str,
    action: &str,
    store: StoreId,
    subject: impl Into<String>,
    details: Value,
) {
    let entry = NewAuditEntry {
        store,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.into(),
        details,
    };
    if let Err(error) = audit.record_audit(entry).await {
        // The act committed: it answers success, and the gap is reported here.
        tracing::error!(%error, action, %store, actor, "an administrative act committed but could not be audited");
    }
}

// What each kind of act keeps, the same whether it came over HTTP or from the console.

/// A credential: neither its secret (nor digest) nor the user it acts for, who is a person
/// the store holds data about.
/// The action of an erasure: recorded without the person, whose identifiers the log must
/// never hold (it outlives the erasure).
pub const ERASE: &str = "person.erase";

/// The action of a purge of statements and tickets (an operator's, or the retention policy's).
pub const PURGE: &str = "statements.purge";

/// What a purge did, in counts.
pub fn purge_details(report: &store::retention::PurgeReport) -> Value {
    serde_json::to_value(report).unwrap_or_default()
}

/// What an erasure did, in counts.
pub fn erasure_details(report: &store::erasure::ErasureReport) -> Value {
    serde_json::to_value(report).unwrap_or_default()
}

pub fn credential_details(credential: &Credential) -> Value {
    json!({ "name": credential.name, "scopes": credential.scopes, "acts_for_a_user": credential.acts_for.is_some() })
}

/// A forwarding rule: the target's URL and the filter; its key and secret are the target's
/// credential.
/// A helpdesk connector: where and how often, never its credentials.
pub fn connector_details(connector: &store::connectors::Connector) -> Value {
    json!({ "kind": connector.kind, "base_url": connector.base_url, "every_seconds": connector.every_seconds })
}

pub fn forwarding_details(rule: &ForwardingRule) -> Value {
    json!({
        "url": rule.url,
        "verbs": rule.filter.verbs,
        "activity_prefix": rule.filter.activity_prefix,
        "max_attempts": rule.max_attempts,
    })
}

/// An NDJSON statement import: counts only, as a refused line's reason may quote the
/// statement, and so a person.
pub fn statements_import_details(report: &ImportReport) -> Value {
    json!({ "lines": report.lines, "accepted": report.accepted, "rejected": report.rejected })
}

/// A ticket import's subject: the source named, else the preset it defaults to.
pub fn tickets_import_subject(options: &ImportOptions) -> String {
    options.source.clone().unwrap_or_else(|| options.preset.to_string())
}

/// A ticket import: counts only, as a rejected row's reason may quote a requester.
pub fn tickets_import_details(summary: &ImportSummary) -> Value {
    json!({
        "inserted": summary.inserted,
        "updated": summary.updated,
        "rejected": summary.rejected,
        "stored": summary.stored,
        "complete": summary.complete,
    })
}
