//! What differs between the helpdesks: the request for a page (from the cursor, or the
//! next page of a run), what the answer holds, and the filters each can take.

use serde_json::Value;

use super::Kind;
use super::http::{Answer, PageRequest};
use super::{jira, servicenow, zendesk};

/// A page of tickets as the helpdesk's JSON objects, laid out as the preset reads them.
#[derive(Debug)]
pub(crate) struct Page {
    pub tickets: Vec<Value>,
    /// Where a later run starts to fetch what changed after this page; `None` when the page
    /// moves nothing (no ticket, and no cursor of the helpdesk's own).
    pub cursor: Option<String>,
    /// The rest of this run's result; `None` at its end.
    pub next: Option<PageRequest>,
}

/// The first request of a run: what changed since `cursor` (everything without one),
/// narrowed by `filter`.
pub(crate) fn first_request(kind: Kind, cursor: Option<&str>, filter: &str) -> PageRequest {
    match kind {
        Kind::Zendesk => zendesk::first_request(cursor),
        Kind::ServiceNow => servicenow::first_request(cursor, filter),
        Kind::Jira => jira::first_request(cursor, filter),
    }
}

/// Reads the answer to `request`.
pub(crate) fn read_page(kind: Kind, request: &PageRequest, answer: Answer) -> Result<Page, String> {
    match kind {
        Kind::Zendesk => zendesk::read_page(answer),
        Kind::ServiceNow => servicenow::read_page(request, answer),
        Kind::Jira => jira::read_page(request, answer),
    }
}

/// Whether `filter` (trimmed; empty is none) is one the helpdesk can take beside the cursor.
pub(crate) fn check_filter(kind: Kind, filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Ok(());
    }
    match kind {
        Kind::Zendesk => Err("Zendesk's incremental export takes no filter; leave it out".into()),
        Kind::ServiceNow => servicenow::check_filter(filter),
        Kind::Jira => jira::check_filter(filter),
    }
}

/// How a refused ticket is named in the run's error: the helpdesk's own id.
pub(crate) fn ticket_name(object: &Value) -> String {
    ["key", "number", "id"]
        .iter()
        .find_map(|name| match object.get(*name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "without an id".into())
}
