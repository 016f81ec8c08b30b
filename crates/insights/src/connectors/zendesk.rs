//! Zendesk's Incremental Ticket Export, cursor based
//! (`GET /api/v2/incremental/tickets/cursor.json`): the first request gives `start_time`,
//! each later one the `after_cursor` of the page before, until `end_of_stream`; the last
//! `after_cursor` is where the next run starts. Zendesk leaves out what changed in the
//! minute before a request.
//!
//! A ticket names its requester and group by id; the users and groups sideloaded with the
//! page (`include=users,groups,metric_sets`) are put in their place, and the metric set
//! (which has `solved_at`) beside them, so the preset finds `requester.email`, `group.name`
//! and `metric_set.solved_at`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::http::{Answer, PageRequest};
use super::vendor::Page;

pub(crate) const PATH: &str = "/api/v2/incremental/tickets/cursor.json";
const SIDELOADS: &str = "users,groups,metric_sets";

pub(crate) fn first_request(cursor: Option<&str>) -> PageRequest {
    let start = match cursor {
        Some(cursor) => ("cursor", cursor.to_string()),
        // Every ticket, from the account's first.
        None => ("start_time", "0".to_string()),
    };
    PageRequest { path: PATH, query: vec![start, ("include", SIDELOADS.to_string())] }
}

pub(crate) fn read_page(answer: Answer) -> Result<Page, String> {
    let body = answer.body;
    let tickets =
        body.get("tickets").and_then(Value::as_array).ok_or("the export's answer has no \"tickets\"")?;
    let by_id = |list: &str| -> HashMap<String, &Value> {
        let items = body.get(list).and_then(Value::as_array).into_iter().flatten();
        items.filter_map(|item| Some((id_text(item.get("id")?)?, item))).collect()
    };
    let (users, groups) = (by_id("users"), by_id("groups"));
    let metric_sets: HashMap<String, &Value> = body
        .get("metric_sets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| Some((id_text(m.get("ticket_id")?)?, m)))
        .collect();
    let tickets = tickets
        .iter()
        .filter_map(Value::as_object)
        .map(|original| {
            let linked = |field: &str| original.get(field).and_then(id_text);
            let mut ticket: Map<String, Value> = original.clone();
            if let Some(user) = linked("requester_id").and_then(|id| users.get(&id)) {
                ticket.insert("requester".into(), (*user).clone());
            }
            if let Some(group) = linked("group_id").and_then(|id| groups.get(&id)) {
                ticket.insert("group".into(), (*group).clone());
            }
            if let Some(metrics) = linked("id").and_then(|id| metric_sets.get(&id)) {
                ticket.entry("metric_set").or_insert_with(|| (*metrics).clone());
            }
            Value::Object(ticket)
        })
        .collect();
    let cursor =
        body.get("after_cursor").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_string);
    let end = body.get("end_of_stream").and_then(Value::as_bool).unwrap_or(true);
    let next = match (&cursor, end) {
        (_, true) => None,
        (Some(cursor), false) => Some(first_request(Some(cursor))),
        (None, false) => return Err("the export's answer is not its end but has no \"after_cursor\"".into()),
    };
    Ok(Page { tickets, cursor, next })
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
