//! Jira Cloud's issue search (`GET /rest/api/3/search/jql`) with
//! `jql=<filter> AND updated >= "<cursor>" ORDER BY updated ASC`, paged by `nextPageToken`
//! until `isLast`.
//!
//! JQL compares dates to the minute, in the API user's time zone. Jira writes `updated`
//! in that same zone (`2024-03-12T09:41:07.000+0100`), so the cursor is the last issue's
//! `updated` as written, and the query takes its wall-clock minute: a run reads again the
//! issues of that minute, and misses none.

use serde_json::Value;

use super::http::{Answer, PageRequest};
use super::vendor::Page;
use crate::tickets::{Field, Preset};

pub(crate) const PATH: &str = "/rest/api/3/search/jql";
/// Issues per page asked for (Jira may answer with fewer).
const PAGE_SIZE: usize = 100;
/// Before any issue: what the first run asks from (the search needs a bounded query).
const BEGINNING: &str = "1970-01-01 00:00";

pub(crate) fn first_request(cursor: Option<&str>, filter: &str) -> PageRequest {
    let since = cursor.and_then(jql_minute).unwrap_or_else(|| BEGINNING.to_string());
    let updated = format!("updated >= \"{since}\"");
    let jql = if filter.is_empty() { updated } else { format!("({filter}) AND {updated}") };
    PageRequest {
        path: PATH,
        query: vec![
            ("jql", format!("{jql} ORDER BY updated ASC")),
            ("fields", fields()),
            ("maxResults", PAGE_SIZE.to_string()),
        ],
    }
}

/// The issue fields the Jira preset reads (`fields.status.name` is the field `status`), and
/// the cursor's.
fn fields() -> String {
    let mut fields: Vec<String> = Field::ALL
        .iter()
        .flat_map(|f| Preset::Jira.columns(*f))
        .filter_map(|c| {
            c.header.strip_prefix("fields.").map(|f| f.split('.').next().unwrap_or(f).to_string())
        })
        .collect();
    fields.push("updated".into());
    fields.sort_unstable();
    fields.dedup();
    fields.join(",")
}

/// `2024-03-12T09:41:07.000+0100` → `2024-03-12 09:41`.
fn jql_minute(updated: &str) -> Option<String> {
    let (date, time) = (updated.get(..10)?, updated.get(11..16)?);
    let shaped = date
        .as_bytes()
        .iter()
        .enumerate()
        .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
        && time.as_bytes()[2] == b':';
    shaped.then(|| format!("{date} {time}"))
}

pub(crate) fn read_page(request: &PageRequest, answer: Answer) -> Result<Page, String> {
    let issues = answer.body.get("issues").and_then(Value::as_array).ok_or("the answer has no \"issues\"")?;
    let cursor = issues
        .last()
        .and_then(|issue| issue.pointer("/fields/updated"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let token = answer.body.get("nextPageToken").and_then(Value::as_str).filter(|t| !t.is_empty());
    let last = answer.body.get("isLast").and_then(Value::as_bool).unwrap_or(token.is_none());
    let next = match token {
        Some(token) if !last => {
            let mut next = request.clone();
            next.query.retain(|(name, _)| *name != "nextPageToken");
            next.query.push(("nextPageToken", token.to_string()));
            Some(next)
        }
        _ => None,
    };
    Ok(Page { tickets: issues.clone(), cursor, next })
}

pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    if filter.to_lowercase().contains("order by") {
        return Err("must be JQL without ORDER BY (the connector orders by updated)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_becomes_the_minute_jql_compares() {
        assert_eq!(jql_minute("2024-03-12T09:41:07.000+0100").as_deref(), Some("2024-03-12 09:41"));
        assert_eq!(jql_minute("soon"), None);
        let request = first_request(Some("2024-03-12T09:41:07.000+0100"), "project = HELP");
        assert_eq!(
            request.param("jql"),
            Some("(project = HELP) AND updated >= \"2024-03-12 09:41\" ORDER BY updated ASC")
        );
        assert!(request.param("fields").unwrap().contains("resolutiondate"));
    }
}
