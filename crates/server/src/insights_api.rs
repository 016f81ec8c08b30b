//! The insights HTTP API (`/insights/…`) and the CSV exports (`/exports/…`), mounted in
//! `tally serve` or served alone by `tally insights serve`.
//!
//! Every resource needs Basic auth: reads take the `insights`, `all` or `all/read` scope,
//! writes (ticket import, goals) `insights` or `all`. Tickets and goals belong to the
//! credential's store, like statements. A server reading a read-only replica refuses the
//! writes ([`configure_read_only`]).

use std::io::Write;

use actix_web::Route;
use actix_web::http::header;
use actix_web::web::{self, Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use insights::goal::{Goal, date};
use insights::import::{ImportFailure, import_file};
use insights::report::Interval;
use insights::service::{self, Bucket, GroupBy, ServiceError};
use insights::tickets::{ImportOptions, InputFormat, Preset};
use insights::{engine, export};
use serde_json::{Value, json};
use store::insights::{ActivitySelection, ChangeRow, DailyCursor, TicketCursor};
use store::{CredentialReader, Cursor, ReadStore, StatementQuery, Store, StoreError, StoreId, TenantReader};

use crate::auth::{Principal, authenticate};
use crate::query::QueryParams;
use crate::{ApiError, AppConfig, audit};

use crate::scopes::{INSIGHTS_READ as READ, INSIGHTS_WRITE as WRITE, Scope};

/// What a read-only insights server answers to a write (see [`configure_read_only`]).
pub const READ_ONLY_REFUSAL: &str =
    "this insights server reads a read-only replica: import tickets and edit goals on the primary";

/// Whether this insights server may change tickets and goals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InsightsMode {
    /// Reads and writes (the rollup engine runs beside it, on the same database).
    ReadWrite,
    /// Reads a read-only replica: every write is refused (see [`configure_read_only`]).
    ReadOnly,
}

/// Registers `/insights` and `/exports`.
pub fn configure<S: Store>(cfg: &mut web::ServiceConfig) {
    register::<S>(cfg, InsightsMode::ReadWrite, |write| {
        let route = write.method();
        match write {
            InsightsWrite::ImportTickets => route.to(import_tickets::<S>),
            InsightsWrite::PutGoal => route.to(put_goal::<S>),
            InsightsWrite::DeleteGoal => route.to(delete_goal::<S>),
            InsightsWrite::AddChange => route.to(add_change::<S>),
            InsightsWrite::DeleteChange => route.to(delete_change::<S>),
        }
    });
}

/// Registers `/insights` and `/exports` for a server reading a read-only replica: reads
/// answer as usual; ticket import and goal and change edits answer 405 with an empty
/// `Allow` (or `GET`) and [`READ_ONLY_REFUSAL`], after the same authentication and scope
/// check as on the primary. 405, not 503: the replica will never take the write, so a
/// client must not retry it here (RFC 9110 §15.5.6 and §10.2.1: a method disabled by
/// configuration). Bound on [`ReadStore`], this server has no write path to reach.
pub fn configure_read_only<S: ReadStore>(cfg: &mut web::ServiceConfig) {
    register::<S>(cfg, InsightsMode::ReadOnly, |write| {
        let allow = write.allow();
        write.method().to(move |req: HttpRequest, store: Data<S>| refuse_write(req, store, allow))
    });
}

/// The insights resources that change tickets or goals.
#[derive(Clone, Copy)]
enum InsightsWrite {
    ImportTickets,
    PutGoal,
    DeleteGoal,
    AddChange,
    DeleteChange,
}

impl InsightsWrite {
    fn method(self) -> Route {
        match self {
            InsightsWrite::ImportTickets | InsightsWrite::AddChange => web::post(),
            InsightsWrite::PutGoal => web::put(),
            InsightsWrite::DeleteGoal | InsightsWrite::DeleteChange => web::delete(),
        }
    }

    /// The methods its path still answers on a read-only server.
    fn allow(self) -> &'static str {
        match self {
            InsightsWrite::ImportTickets | InsightsWrite::DeleteChange => "",
            InsightsWrite::PutGoal | InsightsWrite::DeleteGoal | InsightsWrite::AddChange => "GET",
        }
    }
}

/// Registers the reads, and each write as `write` routes it.
fn register<S: ReadStore>(
    cfg: &mut web::ServiceConfig,
    mode: InsightsMode,
    write: impl Fn(InsightsWrite) -> Route,
) {
    cfg.service(
        web::scope("/insights")
            .app_data(Data::new(mode))
            .route("/status", web::get().to(status::<S>))
            .route("/tickets", write(InsightsWrite::ImportTickets))
            .route("/tickets/summary", web::get().to(ticket_summary::<S>))
            .route("/goals", web::get().to(list_goals::<S>))
            .route("/goals/{id}", write(InsightsWrite::PutGoal))
            .route("/goals/{id}", web::get().to(get_goal::<S>))
            .route("/goals/{id}", write(InsightsWrite::DeleteGoal))
            .route("/goals/{id}/report", web::get().to(goal_report::<S>))
            .route("/goals/{id}/changes", write(InsightsWrite::AddChange))
            .route("/goals/{id}/changes", web::get().to(list_changes::<S>))
            .route("/goals/{id}/changes/{change}", write(InsightsWrite::DeleteChange))
            .route("/activities", web::get().to(activities::<S>))
            .route("/videos", web::get().to(videos::<S>)),
    )
    .service(
        web::scope("/exports")
            .route("/statements.csv", web::get().to(export_statements::<S>))
            .route("/statements.ndjson", web::get().to(export_statements_ndjson::<S>))
            .route("/tickets.csv", web::get().to(export_tickets::<S>))
            .route("/activity-daily.csv", web::get().to(export_daily::<S>))
            .route("/goals/{id}.csv", web::get().to(export_goal::<S>)),
    );
}

/// A write on a read-only server: authenticated as the write would be, then refused.
async fn refuse_write<S: CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    allow: &'static str,
) -> Result<HttpResponse, ApiError> {
    principal(&req, store.get_ref(), WRITE).await?;
    Ok(HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .json(json!({ "error": { "status": 405, "message": READ_ONLY_REFUSAL } })))
}

async fn principal<S: CredentialReader + TenantReader>(
    req: &HttpRequest,
    store: &S,
    scopes: &[Scope],
) -> Result<Principal, ApiError> {
    let config = req.app_data::<Data<AppConfig>>().map(|c| c.get_ref().clone()).unwrap_or_default();
    let principal = authenticate(req, store, &config).await?;
    principal.require(scopes)?;
    Ok(principal)
}

fn service_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NoGoal => ApiError::NotFound,
        ServiceError::BadGoal(message) => ApiError::Internal(message),
        ServiceError::Store(e) => e.into(),
    }
}

fn date_param(params: &QueryParams, name: &str) -> Result<Option<jiff::civil::Date>, ApiError> {
    params
        .get(name)
        .map(|v| {
            date::parse(v)
                .ok_or_else(|| ApiError::bad_request(name, "must be a date (YYYY-MM-DD or RFC 3339)"))
        })
        .transpose()
}

/// `GET /insights/status`: how far the rollups have followed the statements. On a
/// read-only replica both come from the primary by replication (its engine writes them).
async fn status<S: ReadStore>(
    req: HttpRequest,
    store: Data<S>,
    mode: Data<InsightsMode>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let lag = engine::lag(store.get_ref(), p.store).await?;
    let read_only = *mode.get_ref() == InsightsMode::ReadOnly;
    Ok(HttpResponse::Ok().json(json!({ "rollups": lag, "read_only": read_only })))
}

/// `POST /insights/tickets?preset=…&source=…&strict=…&timezone=…&through=…&map=field=Column…`
/// with a CSV, JSON array or NDJSON body: answers the import summary.
async fn import_tickets<S: Store>(
    req: HttpRequest,
    mut payload: web::Payload,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), WRITE).await?;
    let params = QueryParams::parse_repeating(
        req.query_string(),
        &["preset", "source", "timezone", "account_home_page", "strict", "through", "format"],
        &["map"],
    )?;
    let mut options = ImportOptions::new(Preset::Generic);
    if let Some(preset) = params.get("preset") {
        options.preset = preset
            .parse()
            .map_err(|e: insights::tickets::ImportError| ApiError::bad_request("preset", e.to_string()))?;
    }
    options.source = params.get("source").map(str::to_string);
    let subject = audit::tickets_import_subject(&options);
    if let Some(timezone) = params.get("timezone") {
        options.timezone = timezone.to_string();
    }
    options.account_home_page = params.get("account_home_page").map(str::to_string);
    let strict = params.boolean("strict")?;
    options.through = params
        .get("through")
        .map(|v| insights::import::parse_through(v).map_err(|e| ApiError::bad_request("through", e)))
        .transpose()?;
    let format = params
        .get("format")
        .map(|v| v.parse::<InputFormat>().map_err(|e| ApiError::bad_request("format", e.to_string())))
        .transpose()?;
    for mapping in params.all("map") {
        let (field, column) =
            mapping.split_once('=').ok_or_else(|| ApiError::bad_request("map", "must be field=Column"))?;
        options.map.push((field.to_string(), column.to_string()));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = format.or_else(|| InputFormat::from_content_type(content_type));
    // Spool the body to a file: the import reads it as a stream (twice when strict).
    let mut spool = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut first = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("", format!("the body could not be read: {e}")))?;
        if first.len() < 512 {
            first.extend_from_slice(&chunk[..chunk.len().min(512 - first.len())]);
        }
        spool.write_all(&chunk).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    spool.flush().map_err(|e| ApiError::Internal(e.to_string()))?;
    let format = format.unwrap_or_else(|| InputFormat::sniff(&first));
    let summary = import_file(store.get_ref(), p.store, spool.path(), format, options, strict, |_| {})
        .await
        .map_err(|e| match e {
            ImportFailure::Import(e) => ApiError::bad_request("", e.to_string()),
            ImportFailure::Io(e) => ApiError::bad_request("", e),
            ImportFailure::Store(e) => e.into(),
        })?;
    let details = audit::tickets_import_details(&summary);
    audit::record(store.get_ref(), &p, "tickets.import", p.store, subject, details).await;
    Ok(HttpResponse::Ok().json(summary))
}

async fn ticket_summary<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let params = QueryParams::parse(req.query_string(), &["group_by", "interval", "from", "to"])?;
    let group_by = GroupBy::parse(params.get("group_by").unwrap_or("category"))
        .ok_or_else(|| ApiError::bad_request("group_by", "must be category, product or tag"))?;
    let bucket = Bucket::parse(params.get("interval").unwrap_or("week"))
        .ok_or_else(|| ApiError::bad_request("interval", "must be day, week or month"))?;
    let groups = service::ticket_summary(
        store.get_ref(),
        p.store,
        group_by,
        bucket,
        date_param(&params, "from")?,
        date_param(&params, "to")?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(groups))
}

fn goal_json(id: &str, goal: &Value) -> Value {
    let mut goal = goal.clone();
    goal["id"] = json!(id);
    goal
}

async fn list_goals<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let goals: Vec<Value> = store
        .goals(p.store)
        .await?
        .iter()
        .filter_map(|g| serde_json::from_str(&g.definition).ok().map(|d| goal_json(&g.id, &d)))
        .collect();
    Ok(HttpResponse::Ok().json(goals))
}

fn checked_id(id: &str) -> Result<&str, ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(ApiError::bad_request("id", "goal ids are 1 to 100 letters, digits, '-', '_' or '.'"))
    }
}

async fn put_goal<S: Store>(
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), WRITE).await?;
    let id = checked_id(&id)?;
    let goal = Goal::parse(&body).map_err(|e| ApiError::bad_request(&e.field, e.to_string()))?;
    let definition = serde_json::to_value(&goal).map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = store.put_goal(p.store, id, &definition.to_string()).await?;
    audit::record(store.get_ref(), &p, "goal.put", p.store, id, json!({ "created": created })).await;
    let answer = goal_json(id, &definition);
    Ok(if created { HttpResponse::Created().json(answer) } else { HttpResponse::Ok().json(answer) })
}

async fn get_goal<S: ReadStore>(
    req: HttpRequest,
    id: Path<String>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let row = store.goal(p.store, &id).await?.ok_or(ApiError::NotFound)?;
    let definition: Value =
        serde_json::from_str(&row.definition).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(goal_json(&row.id, &definition)))
}

async fn delete_goal<S: Store>(
    req: HttpRequest,
    id: Path<String>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), WRITE).await?;
    if store.delete_goal(p.store, &id).await? {
        audit::record(store.get_ref(), &p, "goal.delete", p.store, id.as_str(), json!({})).await;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

fn report_options(req: &HttpRequest) -> Result<(Option<jiff::civil::Date>, Interval), ApiError> {
    let params = QueryParams::parse(req.query_string(), &["interval", "as_of"])?;
    let interval = Interval::parse(params.get("interval").unwrap_or("week"))
        .ok_or_else(|| ApiError::bad_request("interval", "must be day or week"))?;
    Ok((date_param(&params, "as_of")?, interval))
}

async fn goal_report<S: ReadStore>(
    req: HttpRequest,
    id: Path<String>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let (as_of, interval) = report_options(&req)?;
    let (goal, report) =
        service::goal_report(store.get_ref(), p.store, &id, as_of, interval).await.map_err(service_error)?;
    let mut body = serde_json::to_value(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["goal"] = goal_json(&id, &serde_json::to_value(&goal).unwrap_or_default());
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChange {
    at: String,
    kind: String,
    #[serde(default)]
    note: String,
}

async fn add_change<S: Store>(
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), WRITE).await?;
    let change: NewChange =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("", format!("not a change: {e}")))?;
    if !["promotion", "placement", "content"].contains(&change.kind.as_str()) {
        return Err(ApiError::bad_request("kind", "must be promotion, placement or content"));
    }
    let at = xapi::Timestamp::parse(&change.at)
        .map(|t| t.instant.as_micros())
        .or_else(|| date::parse(&change.at).map(insights::days::day_start))
        .ok_or_else(|| ApiError::bad_request("at", "must be a date or an RFC 3339 timestamp"))?;
    let row = ChangeRow { id: uuid::Uuid::new_v4().to_string(), at, kind: change.kind, note: change.note };
    store.add_change(p.store, &id, row.clone()).await?;
    // The change's note is free text: left out.
    let details = json!({ "change": row.id, "kind": row.kind });
    audit::record(store.get_ref(), &p, "change.add", p.store, id.as_str(), details).await;
    Ok(HttpResponse::Created().json(change_json(&row)))
}

fn change_json(c: &ChangeRow) -> Value {
    let at = xapi::Timestamp::from_micros(c.at).to_rfc3339();
    json!({ "id": c.id, "at": at, "kind": c.kind, "note": c.note })
}

async fn list_changes<S: ReadStore>(
    req: HttpRequest,
    id: Path<String>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    store.goal(p.store, &id).await?.ok_or(ApiError::NotFound)?;
    let changes: Vec<Value> = store.changes(p.store, &id).await?.iter().map(change_json).collect();
    Ok(HttpResponse::Ok().json(changes))
}

async fn delete_change<S: Store>(
    req: HttpRequest,
    path: Path<(String, String)>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), WRITE).await?;
    let (goal, change) = path.into_inner();
    if store.delete_change(p.store, &goal, &change).await? {
        let details = json!({ "change": change });
        audit::record(store.get_ref(), &p, "change.delete", p.store, goal, details).await;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

async fn activities<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let params = QueryParams::parse(
        req.query_string(),
        &["activityId", "activity_id_prefix", "from", "to", "interval"],
    )?;
    let selection = ActivitySelection {
        ids: params.iri("activityId")?.into_iter().collect(),
        prefix: Some(params.get("activity_id_prefix").unwrap_or("").to_string()),
    };
    let to = date_param(&params, "to")?.unwrap_or_else(insights::days::today);
    let from = date_param(&params, "from")?.unwrap_or_else(|| to.saturating_sub(jiff::Span::new().days(27)));
    let interval = Interval::parse(params.get("interval").unwrap_or("week"))
        .ok_or_else(|| ApiError::bad_request("interval", "must be day or week"))?;
    let counts = service::activity_counts(store.get_ref(), p.store, selection, from, to, interval).await?;
    Ok(HttpResponse::Ok().json(counts))
}

async fn videos<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let params = QueryParams::parse(req.query_string(), &["activityId"])?;
    params.require("activityId")?;
    let activity = params.iri("activityId")?.unwrap_or_default();
    Ok(HttpResponse::Ok().json(service::video(store.get_ref(), p.store, &activity).await?))
}

fn csv_response(
    name: &str,
    rows: impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .streaming(rows)
}

/// A CSV record per item, by `row` (for [`paged_lines`]).
fn csv_rows<T: 'static>(row: fn(&T) -> Vec<String>) -> impl Fn(&T) -> Vec<u8> + Clone + 'static {
    move |item| export::csv_line(row(item))
}

/// Streams `head`, then a line per item of the pages from `next_page`, holding one page at
/// a time.
fn paged_lines<T, C, F, Fut>(
    head: Vec<u8>,
    next_page: F,
    line: impl Fn(&T) -> Vec<u8> + Clone + 'static,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static
where
    T: 'static,
    C: 'static,
    F: Fn(Option<C>) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<C>), StoreError>> + 'static,
{
    let head = stream::once(async move { Ok(Bytes::from(head)) });
    let body = stream::unfold(Some(None::<C>), move |state| {
        let (next_page, line) = (next_page.clone(), line.clone());
        async move {
            let cursor = state?;
            match next_page(cursor).await {
                Ok((items, next)) => {
                    let mut chunk = Vec::new();
                    for item in &items {
                        chunk.extend_from_slice(&line(item));
                    }
                    let state = next.map(Some);
                    Some((Ok(Bytes::from(chunk)), state))
                }
                Err(e) => Some((Err(ApiError::from(e).into()), None)),
            }
        }
    });
    head.chain(body)
}

/// The statement query an export of statements answers: the filters of
/// `GET /xapi/statements`, without `statementId`.
fn export_query(req: &HttpRequest) -> Result<StatementQuery, ApiError> {
    match crate::params::parse_statements_get(req.query_string(), 500)? {
        crate::params::StatementsGet::Query { query, .. } => Ok(query),
        _ => Err(ApiError::bad_request("statementId", "exports list statements; use the statement filters")),
    }
}

/// `GET /exports/statements.ndjson`: every statement the filters select, each as stored on
/// a line of its own, oldest first (in the order an import stores them) unless
/// `ascending=false`.
async fn export_statements_ndjson<S: ReadStore>(
    req: HttpRequest,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let mut query = export_query(&req)?;
    query.ascending |= !req.query_string().split('&').any(|pair| pair.split('=').next() == Some("ascending"));
    let store_id: StoreId = p.store;
    let lines = paged_lines(
        Vec::new(),
        move |cursor: Option<Cursor>| {
            let (store, query) = (store.clone(), query.clone());
            async move { export::statement_page(store.get_ref(), store_id, query, cursor).await }
        },
        export::ndjson_line,
    );
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"statements.ndjson\""))
        .streaming(lines))
}

async fn export_statements<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let query = export_query(&req)?;
    let store_id: StoreId = p.store;
    let rows = paged_lines(
        export::csv_header(export::STATEMENT_COLUMNS),
        move |cursor: Option<Cursor>| {
            let (store, query) = (store.clone(), query.clone());
            async move { export::statement_page(store.get_ref(), store_id, query, cursor).await }
        },
        csv_rows(export::statement_row),
    );
    Ok(csv_response("statements.csv", rows))
}

async fn export_tickets<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    QueryParams::parse(req.query_string(), &[])?;
    let store_id = p.store;
    let rows = paged_lines(
        export::csv_header(export::TICKET_COLUMNS),
        move |cursor: Option<TicketCursor>| {
            let store = store.clone();
            async move { export::ticket_page(store.get_ref(), store_id, cursor).await }
        },
        csv_rows(export::ticket_row),
    );
    Ok(csv_response("tickets.csv", rows))
}

async fn export_daily<S: ReadStore>(req: HttpRequest, store: Data<S>) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    QueryParams::parse(req.query_string(), &[])?;
    let store_id = p.store;
    let rows = paged_lines(
        export::csv_header(export::DAILY_COLUMNS),
        move |cursor: Option<DailyCursor>| {
            let store = store.clone();
            async move { export::daily_page(store.get_ref(), store_id, cursor).await }
        },
        csv_rows(export::daily_row),
    );
    Ok(csv_response("activity-daily.csv", rows))
}

async fn export_goal<S: ReadStore>(
    req: HttpRequest,
    id: Path<String>,
    store: Data<S>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, store.get_ref(), READ).await?;
    let (as_of, interval) = report_options(&req)?;
    let id = id.into_inner();
    let id = id.strip_suffix(".csv").unwrap_or(&id).to_string();
    let (_, report) =
        service::goal_report(store.get_ref(), p.store, &id, as_of, interval).await.map_err(service_error)?;
    let body = export::goal_csv(&report);
    Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(body))
}
