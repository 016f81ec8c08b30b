//! Exports. CSV for BI tools: RFC 4180 quoting, UTF-8, a header row, UTC ISO 8601 times, one
//! flat row per statement, ticket or daily rollup (the columns are documented in the
//! README). NDJSON for moving statements: each statement's stored JSON on a line of its own.

use serde_json::Value;
use store::insights::{DailyCursor, DailyRow, TicketCursor, TicketRow};
use store::{
    Cursor, RollupReader, StatementQuery, StatementReader, StoreError, StoreId, StoredStatement, TicketReader,
};
use tracing::Instrument;
use xapi::Timestamp;

use crate::report::Report;

/// Rows per page when an export pages through tickets and daily rollups.
const PAGE_ROWS: usize = 1_000;
/// Statements per page (bodies are larger).
pub const STATEMENT_PAGE: usize = 500;

/// One page of statements matching `query`, as stored, and where the next page starts.
pub async fn statement_page<S: StatementReader>(
    store: &S,
    id: StoreId,
    mut query: StatementQuery,
    cursor: Option<Cursor>,
) -> Result<(Vec<StoredStatement>, Option<Cursor>), StoreError> {
    query.limit = STATEMENT_PAGE;
    query.cursor = cursor;
    let page = store.query_statements(id, query).await?;
    Ok((page.statements, page.next))
}

/// One page of tickets in creation order, and where the next page starts.
pub async fn ticket_page<S: TicketReader>(
    store: &S,
    id: StoreId,
    cursor: Option<TicketCursor>,
) -> Result<(Vec<TicketRow>, Option<TicketCursor>), StoreError> {
    let page = store.ticket_page(id, cursor, PAGE_ROWS).await?;
    let next = page.last().filter(|_| page.len() == PAGE_ROWS).map(|t| TicketCursor {
        created: t.created,
        source: t.source.clone(),
        external_id: t.external_id.clone(),
    });
    Ok((page, next))
}

/// One page of daily rollup rows, and where the next page starts.
pub async fn daily_page<S: RollupReader>(
    store: &S,
    id: StoreId,
    cursor: Option<DailyCursor>,
) -> Result<(Vec<DailyRow>, Option<DailyCursor>), StoreError> {
    let page = store.daily_page(id, cursor, PAGE_ROWS).await?;
    let next = page.last().filter(|_| page.len() == PAGE_ROWS).map(DailyCursor::after);
    Ok((page, next))
}

/// Why writing an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes a whole CSV export to `writer`, one page at a time: the header, then a row per
/// item (in an `export` span with the count). Answers how many rows it wrote.
pub async fn write_paged<T, C, F, Fut>(
    writer: &mut impl std::io::Write,
    header: &[&str],
    next_page: F,
    row: fn(&T) -> Vec<String>,
) -> Result<u64, WriteError>
where
    F: Fn(Option<C>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<C>), StoreError>>,
{
    let head = csv_line(header.iter().map(|h| h.to_string()));
    write_lines(writer, header.first().copied().unwrap_or(""), &head, next_page, |item| csv_line(row(item)))
        .await
}

/// Writes `head`, then a line per item that `next_page` yields, one page at a time, in an
/// `export` span named by `what` with the count. Answers how many items it wrote.
pub async fn write_lines<T, C, F, Fut>(
    writer: &mut impl std::io::Write,
    what: &str,
    head: &[u8],
    next_page: F,
    line: impl Fn(&T) -> Vec<u8>,
) -> Result<u64, WriteError>
where
    F: Fn(Option<C>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<C>), StoreError>>,
{
    let span = tracing::info_span!("export", first_column = what, rows = tracing::field::Empty);
    let written = async {
        writer.write_all(head)?;
        let (mut rows, mut cursor) = (0, None);
        loop {
            let (items, next) = next_page(cursor).await?;
            for item in &items {
                writer.write_all(&line(item))?;
            }
            rows += items.len() as u64;
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(rows),
            }
        }
    }
    .instrument(span.clone())
    .await;
    if let Ok(rows) = &written {
        span.record("rows", rows);
    }
    written
}

/// One statement's stored JSON as one NDJSON line: the stored text itself, unless it holds
/// a line break (whitespace a client sent), which would split it.
pub fn ndjson_line(statement: &StoredStatement) -> Vec<u8> {
    let body = &statement.body;
    let mut line = if body.contains(['\n', '\r']) {
        serde_json::from_str::<Value>(body)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| body.replace(['\n', '\r'], " "))
    } else {
        body.clone()
    }
    .into_bytes();
    line.push(b'\n');
    line
}

/// A CSV header record.
pub fn csv_header(columns: &[&str]) -> Vec<u8> {
    csv_line(columns.iter().map(|c| c.to_string()))
}

/// One CSV record, quoted where needed, ending with CRLF (RFC 4180).
pub fn csv_line(fields: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            line.push(b'"');
            line.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            line.push(b'"');
        } else {
            line.extend_from_slice(field.as_bytes());
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

fn time(micros: i64) -> String {
    Timestamp::from_micros(micros).to_rfc3339()
}

pub const STATEMENT_COLUMNS: &[&str] = &[
    "id",
    "timestamp",
    "stored",
    "actor",
    "actor_name",
    "verb",
    "verb_display",
    "object_type",
    "object_id",
    "object_name",
    "score_scaled",
    "score_raw",
    "success",
    "completion",
    "duration",
    "response",
    "registration",
    "parent_ids",
    "grouping_ids",
    "voided",
];

/// The first entry of a language map, preferring en-US and en.
fn display(map: Option<&Value>) -> String {
    let Some(Value::Object(map)) = map else { return String::new() };
    ["en-US", "en"]
        .iter()
        .find_map(|l| map.get(*l))
        .or_else(|| map.values().next())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An Agent or Group as one identifier: its IFI (`mailto:…`, the account's `homePage name`).
fn actor_id(actor: Option<&Value>) -> String {
    let Some(actor) = actor else { return String::new() };
    for ifi in ["mbox", "mbox_sha1sum", "openid"] {
        if let Some(Value::String(v)) = actor.get(ifi) {
            return v.clone();
        }
    }
    match actor.get("account") {
        Some(account) => format!("{} {}", text(account.get("homePage")), text(account.get("name"))),
        None => String::new(),
    }
}

fn ids(list: Option<&Value>) -> String {
    list.and_then(Value::as_array)
        .map(|items| {
            items.iter().filter_map(|a| a.get("id").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        })
        .unwrap_or_default()
}

pub fn statement_row(stored: &StoredStatement) -> Vec<String> {
    let s: Value = serde_json::from_str(&stored.body).unwrap_or_default();
    let s = &s;
    let object = s.get("object");
    let result = s.get("result");
    let score = result.and_then(|r| r.get("score"));
    let context_activities = s.get("context").and_then(|c| c.get("contextActivities"));
    let object_type = object.and_then(|o| o.get("objectType")).and_then(Value::as_str).unwrap_or("Activity");
    let object_id = match object_type {
        "Agent" | "Group" => actor_id(object),
        _ => text(object.and_then(|o| o.get("id"))),
    };
    vec![
        text(s.get("id")),
        text(s.get("timestamp")),
        text(s.get("stored")),
        actor_id(s.get("actor")),
        text(s.get("actor").and_then(|a| a.get("name"))),
        text(s.get("verb").and_then(|v| v.get("id"))),
        display(s.get("verb").and_then(|v| v.get("display"))),
        object_type.to_string(),
        object_id,
        display(object.and_then(|o| o.get("definition")).and_then(|d| d.get("name"))),
        text(score.and_then(|x| x.get("scaled"))),
        text(score.and_then(|x| x.get("raw"))),
        text(result.and_then(|r| r.get("success"))),
        text(result.and_then(|r| r.get("completion"))),
        text(result.and_then(|r| r.get("duration"))),
        text(result.and_then(|r| r.get("response"))),
        text(s.get("context").and_then(|c| c.get("registration"))),
        ids(context_activities.and_then(|c| c.get("parent"))),
        ids(context_activities.and_then(|c| c.get("grouping"))),
        // Queries return only statements that are not voided.
        "false".into(),
    ]
}

pub const TICKET_COLUMNS: &[&str] = &[
    "source",
    "external_id",
    "created",
    "resolved",
    "status",
    "category",
    "tags",
    "product",
    "requester",
    "priority",
    "channel",
    "subject",
];

pub fn ticket_row(t: &TicketRow) -> Vec<String> {
    vec![
        t.source.clone(),
        t.external_id.clone(),
        time(t.created),
        t.resolved.map(time).unwrap_or_default(),
        t.status.clone(),
        t.category.clone(),
        t.tags.join(";"),
        t.product.clone(),
        t.requester.clone(),
        t.priority.clone(),
        t.channel.clone(),
        t.subject.clone(),
    ]
}

pub const DAILY_COLUMNS: &[&str] = &[
    "day",
    "activity_id",
    "verb",
    "statements",
    "completions",
    "passes",
    "failures",
    "mean_scaled_score",
    "duration_seconds",
];

pub fn daily_row(r: &DailyRow) -> Vec<String> {
    let day = Timestamp::from_micros(r.day * crate::days::MICROS_PER_DAY).to_rfc3339();
    vec![
        day[..10].to_string(),
        r.activity_id.clone(),
        r.verb_id.clone(),
        r.statements.to_string(),
        r.completions.to_string(),
        r.passes.to_string(),
        r.failures.to_string(),
        if r.scaled_count > 0 {
            format!("{:.4}", r.scaled_sum / r.scaled_count as f64)
        } else {
            String::new()
        },
        format!("{:.3}", r.duration_ms as f64 / 1_000.0),
    ]
}

/// A goal report as CSV: one row per interval of the ticket series (tickets, new and total
/// learners; `partial` when the report's window ends inside it, which then ends there),
/// then one row per period.
pub fn goal_csv(report: &Report) -> Vec<u8> {
    let mut out = csv_line(
        [
            "kind",
            "name",
            "start",
            "end",
            "tickets",
            "tickets_weekly",
            "new_learners",
            "learners",
            "completion_rate",
            "partial",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let series = &report.tickets.series;
    for (i, point) in series.iter().enumerate() {
        let end = match series.get(i + 1) {
            Some(next) => next.start.clone(),
            None if point.partial => report.window.end.clone(),
            None => date_after(&point.start, point.days),
        };
        out.extend(csv_line([
            "interval".into(),
            String::new(),
            point.start.clone(),
            end,
            point.tickets.to_string(),
            String::new(),
            point.new_learners.to_string(),
            point.learners.to_string(),
            String::new(),
            point.partial.to_string(),
        ]));
    }
    for period in &report.periods {
        out.extend(csv_line([
            "period".into(),
            period.name.clone(),
            period.from.clone(),
            period.to.clone(),
            String::new(),
            format!("{:.3}", period.tickets_weekly),
            period.new_learners.to_string(),
            String::new(),
            period.completion_rate.map(|c| format!("{c:.4}")).unwrap_or_default(),
            String::new(),
        ]));
    }
    out
}

/// The day `days` after a `YYYY-MM-DD` date (the end of a whole interval).
fn date_after(start: &str, days: f64) -> String {
    start
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.checked_add(jiff::Span::new().days(days.round() as i64)).ok())
        .map_or_else(String::new, |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str) -> StoredStatement {
        StoredStatement {
            seq: store::Seq::new(1),
            id: uuid::Uuid::nil(),
            stored: Timestamp::from_micros(0),
            body: body.to_string(),
            voided: false,
        }
    }

    #[test]
    fn a_stored_body_with_line_breaks_becomes_one_line_of_the_same_json() {
        let body = "{\n  \"id\": \"x\",\n  \"verb\": {\"id\": \"v\"}\n}";
        let line = String::from_utf8(ndjson_line(&stored(body))).unwrap();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            serde_json::from_str::<Value>(body).unwrap()
        );
        assert_eq!(ndjson_line(&stored("{\"id\":\"y\"}")), b"{\"id\":\"y\"}\n");
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        let line = csv_line(["plain".into(), "a,b".into(), "say \"hi\"".into(), "two\nlines".into()]);
        assert_eq!(line, b"plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn a_statement_becomes_one_flat_row() {
        let s = serde_json::json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": { "mbox": "mailto:ann@example.com", "name": "Ann" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "de": "beendet", "en-US": "completed" } },
            "object": { "id": "http://example.com/course", "definition": { "name": { "en": "Course" } } },
            "result": { "score": { "scaled": 0.5 }, "completion": true },
            "context": { "contextActivities": { "parent": [{ "id": "http://a" }, { "id": "http://b" }] } },
        });
        let row = statement_row(&stored(&s.to_string()));
        assert_eq!(row.len(), STATEMENT_COLUMNS.len());
        assert_eq!(row[3], "mailto:ann@example.com");
        assert_eq!(row[6], "completed");
        assert_eq!(row[9], "Course");
        assert_eq!(row[10], "0.5");
        assert_eq!(row[17], "http://a http://b");
    }
}
