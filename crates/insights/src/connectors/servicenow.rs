//! ServiceNow's Table API on `incident`: `GET /api/now/table/incident` with
//! `sysparm_query=sys_updated_on>=<cursor>^<filter>^ORDERBYsys_updated_on`, paged by
//! `sysparm_offset` and `sysparm_limit` until the page that reaches `X-Total-Count` (or
//! an empty or short one). The cursor is the last record's `sys_updated_on`; a run starts
//! at it again (`>=`), so records updated in that same second are never missed, only read
//! twice.
//!
//! Records are asked for with `sysparm_display_value=all`, so each field is its stored
//! `value` and its `display_value`: a list export shows display values (`Resolved`, the
//! caller's name), which is what the preset expects, except for instants, whose value is
//! UTC where the display is in the API user's time zone.

use serde_json::{Map, Value};

use super::http::{Answer, PageRequest};
use super::vendor::Page;
use crate::tickets::{Field, Preset};

pub(crate) const PATH: &str = "/api/now/table/incident";
/// Records per page asked for (an instance may answer with fewer).
const PAGE_SIZE: usize = 1_000;
/// The field the cursor follows.
const UPDATED: &str = "sys_updated_on";
/// The instants among the fields read: their `value` is UTC.
const INSTANTS: [&str; 4] = ["opened_at", "sys_created_on", "resolved_at", UPDATED];

pub(crate) fn first_request(cursor: Option<&str>, filter: &str) -> PageRequest {
    let mut conditions = Vec::new();
    if let Some(cursor) = cursor {
        conditions.push(format!("{UPDATED}>={cursor}"));
    }
    if !filter.is_empty() {
        conditions.push(filter.to_string());
    }
    conditions.push(format!("ORDERBY{UPDATED}"));
    PageRequest {
        path: PATH,
        query: vec![
            ("sysparm_query", conditions.join("^")),
            ("sysparm_fields", fields()),
            ("sysparm_display_value", "all".into()),
            ("sysparm_exclude_reference_link", "true".into()),
            ("sysparm_limit", PAGE_SIZE.to_string()),
            ("sysparm_offset", "0".into()),
        ],
    }
}

/// Every column the ServiceNow preset reads (dot-walked ones such as `caller_id.email`
/// included), and the cursor's.
fn fields() -> String {
    let mut fields: Vec<String> =
        Field::ALL.iter().flat_map(|f| Preset::ServiceNow.columns(*f)).map(|c| c.header).collect();
    fields.push(UPDATED.into());
    fields.dedup();
    fields.join(",")
}

pub(crate) fn read_page(request: &PageRequest, answer: Answer) -> Result<Page, String> {
    let records =
        answer.body.get("result").and_then(Value::as_array).ok_or("the answer has no \"result\"")?;
    let tickets: Vec<Value> = records.iter().filter_map(Value::as_object).map(plain).collect();
    let cursor = tickets.last().and_then(|t| t.get(UPDATED)).and_then(Value::as_str).map(str::to_string);
    let offset: usize = request.param("sysparm_offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let reached = offset + records.len();
    let more = match answer.total {
        Some(total) => (reached as u64) < total && !records.is_empty(),
        None => records.len() >= PAGE_SIZE,
    };
    let next = more.then(|| {
        let mut next = request.clone();
        for (name, value) in &mut next.query {
            if *name == "sysparm_offset" {
                *value = reached.to_string();
            }
        }
        next
    });
    Ok(Page { tickets, cursor, next })
}

/// A record with each `{value, display_value}` pair as the one the preset reads.
fn plain(record: &Map<String, Value>) -> Value {
    let fields = record.iter().map(|(name, field)| {
        let side = if INSTANTS.contains(&name.as_str()) { "value" } else { "display_value" };
        let value = match field {
            Value::Object(pair) => pair.get(side).cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        (name.clone(), value)
    });
    Value::Object(fields.collect())
}

pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    if filter.contains("ORDERBY") || filter.contains("^NQ") {
        return Err(
            "must be an encoded query without ORDERBY or ^NQ (the connector orders by sys_updated_on)".into(),
        );
    }
    Ok(())
}
