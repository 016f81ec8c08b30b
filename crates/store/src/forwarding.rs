//! Statement forwarding's rules, as the store keeps them: where to deliver a store's
//! statements, which ones, how far delivery has got, and what was given up on.
//!
//! The statements themselves are the outbox: a committed statement has its place in its
//! store's ingest order, so a rule's place (`delivered`) says exactly which committed
//! statements are still to go, and none that did not commit can be among them.

use std::future::Future;

use xapi::Timestamp;

use crate::{Seq, StoreError, StoreId};

/// A forwarding rule and its delivery state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardingRule {
    pub id: i64,
    pub store: StoreId,
    /// The target's xAPI base URL.
    pub url: String,
    pub key: String,
    /// Kept to authenticate to the target; never shown by the admin API.
    pub secret: String,
    pub filter: ForwardingFilter,
    pub enabled: bool,
    /// Failed attempts after which a statement is given up on (dead-lettered).
    pub max_attempts: u32,
    pub created: Timestamp,
    /// Every statement up to here was delivered or dead-lettered.
    pub delivered: Seq,
    /// Failed attempts in a row.
    pub failures: u32,
    pub last_error: Option<String>,
    /// No attempt before this (the backoff after a failure).
    pub next_attempt: Timestamp,
    pub dead_letters: u64,
}

/// Which statements a rule forwards: all when both are empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardingFilter {
    /// Only statements with one of these verbs.
    pub verbs: Vec<String>,
    /// Only statements whose object is an activity with an id starting so.
    pub activity_prefix: Option<String>,
}

impl ForwardingFilter {
    /// Whether a statement (its JSON) passes the filter.
    pub fn passes(&self, statement: &serde_json::Value) -> bool {
        let verb = statement.pointer("/verb/id").and_then(serde_json::Value::as_str);
        let verb_passes = self.verbs.is_empty() || verb.is_some_and(|v| self.verbs.iter().any(|w| w == v));
        let object = statement.get("object");
        let is_activity = object
            .and_then(|o| o.get("objectType"))
            .and_then(serde_json::Value::as_str)
            .is_none_or(|t| t == "Activity");
        let activity = object.and_then(|o| o.get("id")).and_then(serde_json::Value::as_str);
        let activity_passes = match &self.activity_prefix {
            None => true,
            Some(prefix) => is_activity && activity.is_some_and(|id| id.starts_with(prefix.as_str())),
        };
        verb_passes && activity_passes
    }
}

/// A new rule.
#[derive(Clone, Debug)]
pub struct NewForwarding {
    pub store: StoreId,
    pub url: String,
    pub key: String,
    pub secret: String,
    pub filter: ForwardingFilter,
    pub max_attempts: u32,
}

/// A statement given up on, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub seq: Seq,
    pub statement: String,
    pub error: String,
    pub at: Timestamp,
}

/// Keeps forwarding rules and their delivery state.
pub trait ForwardingStore: Send + Sync {
    fn create_forwarding(
        &self,
        rule: NewForwarding,
    ) -> impl Future<Output = Result<ForwardingRule, StoreError>> + Send;

    /// The rules of one store, or of every store, by id.
    fn forwarding_rules(
        &self,
        store: Option<StoreId>,
    ) -> impl Future<Output = Result<Vec<ForwardingRule>, StoreError>> + Send;

    /// Deletes a rule and its dead letters; false when the store has no such rule.
    fn delete_forwarding(
        &self,
        store: StoreId,
        id: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Turns a rule on or off; false when the store has no such rule.
    fn enable_forwarding(
        &self,
        store: StoreId,
        id: i64,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes (or renews) the lease of a rule that is due, for `owner` until `until`; the
    /// rule as it then is, or `None` when another owner holds it or it is not due.
    fn claim_forwarding(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Option<ForwardingRule>, StoreError>> + Send;

    /// Moves a rule from `from` to `to` with the statements given up on on the way, in one
    /// transaction; false (and nothing changed) when `owner` lost the lease or another
    /// owner moved the rule first.
    fn advance_forwarding(
        &self,
        id: i64,
        owner: &str,
        from: Seq,
        to: Seq,
        dead: Vec<DeadLetter>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a failed delivery; answers the failures in a row (0 when `owner` lost the
    /// lease).
    fn fail_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next_attempt: Timestamp,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Holds a rule that cannot deliver for a reason no statement is at fault for (its
    /// secret cannot be opened): shows `error` and waits until `next_attempt`, without
    /// counting a failure.
    fn hold_forwarding(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next_attempt: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn dead_letters(
        &self,
        store: StoreId,
        id: i64,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;
}

/// The verbs as kept (space-separated IRIs).
pub(crate) fn verbs_text(filter: &ForwardingFilter) -> String {
    filter.verbs.join(" ")
}

/// A filter from its kept columns.
pub(crate) fn filter_of(verbs: &str, activity_prefix: &str) -> ForwardingFilter {
    ForwardingFilter {
        verbs: verbs.split_whitespace().map(str::to_string).collect(),
        activity_prefix: (!activity_prefix.is_empty()).then(|| activity_prefix.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_filter_passes_statements_by_verb_and_activity_prefix() {
        let statement =
            json!({ "verb": { "id": "http://v/completed" }, "object": { "id": "https://lms/course/1" } });
        assert!(ForwardingFilter::default().passes(&statement));
        let by_verb = ForwardingFilter { verbs: vec!["http://v/completed".into()], activity_prefix: None };
        assert!(by_verb.passes(&statement));
        assert!(
            !ForwardingFilter { verbs: vec!["http://v/failed".into()], ..by_verb.clone() }.passes(&statement)
        );
        let by_prefix = ForwardingFilter { verbs: vec![], activity_prefix: Some("https://lms/".into()) };
        assert!(by_prefix.passes(&statement));
        let agent_object =
            json!({ "verb": { "id": "x" }, "object": { "objectType": "Agent", "id": "https://lms/x" } });
        assert!(!by_prefix.passes(&agent_object), "an activity prefix passes activities only");
        assert_eq!(filter_of(&verbs_text(&by_verb), ""), by_verb);
    }
}
