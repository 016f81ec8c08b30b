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

use serde_json::Value;
use store::{AuditWriter, NewAuditEntry, StoreId};

use crate::auth::Principal;

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
