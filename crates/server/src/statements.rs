//! The Statement resource: `PUT`, `POST`, `GET` and `HEAD` on `/xapi/statements`
//! (xAPI 1.0.3 Communication §2.1).

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web::{self, Bytes, BytesMut, Data};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use store::{
    ActivityReader, AttachmentReader, AttachmentUpload, CredentialReader, StatementBatch, StatementPage,
    StatementReader, StatementWriter, StoredStatement, TenantReader,
};
use uuid::Uuid;
use xapi::{Format, LanguagePreferences, Statement, Timestamp, Version};

use crate::auth::{Principal, authenticate};
use crate::multipart::{self, ReceivedPart};
use crate::params::{StatementsGet, encode_more, parse_statements_get};
use crate::query::QueryParams;
use crate::scopes::{self, Scope, StatementAccess};
use crate::version::XapiVersion;
use crate::{ApiError, AppConfig};
use crate::{attachments, limits, observability};

const CONSISTENT_THROUGH: &str = "x-experience-api-consistent-through";

/// Whether a stored statement's authority is (or includes) the principal's agent.
fn authored_by(statement: &StoredStatement, principal: &Principal) -> bool {
    serde_json::from_str::<Value>(&statement.body)
        .ok()
        .and_then(|json| json.get("authority").map(xapi::authority_agents))
        .is_some_and(|agents| agents.contains(&principal.agent))
}

/// Whether a credential may read only its own statements.
fn reads_only_own(principal: &Principal) -> bool {
    principal.statement_access() == Some(StatementAccess::OwnOnly)
}

/// `PUT /xapi/statements?statementId=…`: stores one statement under the given id → 204.
pub async fn put<S: StatementWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    payload: web::Payload,
    store: Data<S>,
    config: Data<AppConfig>,
    XapiVersion(version): XapiVersion,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config).await?;
    principal.require(scopes::STATEMENTS_WRITE)?;
    let params = QueryParams::parse(req.query_string(), &["statementId"])?;
    let id = params.require_uuid("statementId")?;
    let incoming = read_body(&req, payload, &config).await?;
    limits::check_statements_body(&incoming.statements, &config)?;
    let mut json: Value = serde_json::from_slice(&incoming.statements)
        .map_err(|e| ApiError::bad_request("", format!("request body is not valid JSON: {e}")))?;
    let Value::Object(object) = &mut json else {
        return Err(ApiError::bad_request("", "PUT takes a single statement object"));
    };
    match object.get("id").and_then(Value::as_str).map(Uuid::parse_str) {
        None if !object.contains_key("id") => {
            object.insert("id".into(), Value::String(id.to_string()));
        }
        Some(Ok(given)) if given == id => {}
        _ => return Err(ApiError::bad_request("id", "must equal the statementId parameter")),
    }
    let statements = vec![Statement::parse(json, version)?];
    let uploads = attachments::match_parts(&statements, incoming.parts)?;
    write(store.get_ref(), &principal, version, statements, uploads).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /xapi/statements`: stores one statement or an array of them, atomically → 200
/// with their ids in order.
pub async fn post<S: StatementWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    payload: web::Payload,
    store: Data<S>,
    config: Data<AppConfig>,
    XapiVersion(version): XapiVersion,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config).await?;
    principal.require(scopes::STATEMENTS_WRITE)?;
    QueryParams::parse(req.query_string(), &[])?;
    let incoming = read_body(&req, payload, &config).await?;
    limits::check_statements_body(&incoming.statements, &config)?;
    let statements = xapi::parse_statements(&incoming.statements, version)?;
    let uploads = attachments::match_parts(&statements, incoming.parts)?;
    let ids = write(store.get_ref(), &principal, version, statements, uploads).await?;
    Ok(HttpResponse::Ok().json(ids))
}

async fn write<S: StatementWriter>(
    store: &S,
    principal: &Principal,
    version: Version,
    statements: Vec<Statement>,
    attachments: Vec<AttachmentUpload>,
) -> Result<Vec<Uuid>, ApiError> {
    let batch = StatementBatch {
        store: principal.store,
        version,
        authority: principal.authority.clone(),
        // xAPI 1.0.3 Communication §4.2: without `define`, statements do not change the
        // Activity definitions the LRS holds.
        define: principal.has(Scope::Define) || principal.has(Scope::All),
        keep_stored: false,
        statements,
        attachments,
    };
    let ids = store.write_statements(batch).await?;
    observability::record_batch(ids.len());
    Ok(ids)
}

/// A statement request's body: the statements' JSON and any attachment parts.
struct Incoming {
    statements: Bytes,
    parts: Vec<ReceivedPart>,
}

/// Reads `application/json` whole (up to the body limit) or `multipart/mixed` as a stream
/// (xAPI 1.0.3 Communication §1.5); any other content type is a 400.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    config: &AppConfig,
) -> Result<Incoming, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match essence(content_type).as_str() {
        "application/json" => {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::bad_request("", format!("the body could not be read: {e}")))?;
                if body.len() + chunk.len() > config.max_body_bytes {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "the request body is larger than {} bytes",
                        config.max_body_bytes
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Incoming { statements: body.freeze(), parts: Vec::new() })
        }
        "multipart/mixed" => {
            let boundary = multipart::boundary(content_type)?;
            let limits = multipart::Limits {
                statements_bytes: config.max_body_bytes,
                attachment_bytes: config.max_attachment_bytes,
            };
            let received = multipart::read(&boundary, payload, limits).await?;
            if essence(&received.statements_content_type) != "application/json" {
                return Err(ApiError::bad_request(
                    "Content-Type",
                    "the first part of a multipart/mixed request must be the statements as application/json",
                ));
            }
            Ok(Incoming { statements: received.statements, parts: received.attachments })
        }
        _ => Err(ApiError::bad_request(
            "Content-Type",
            format!("must be application/json or multipart/mixed, not {content_type:?}"),
        )),
    }
}

/// A media type without its parameters, lowercased.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// `GET`/`HEAD /xapi/statements`: one statement, or a page of a filtered query. Every
/// answer after authentication, errors included, carries Consistent-Through, which
/// clients poll on.
pub async fn get<
    S: StatementReader + AttachmentReader + ActivityReader + CredentialReader + TenantReader + Clone + 'static,
>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
    XapiVersion(version): XapiVersion,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config).await?;
    principal.require(scopes::STATEMENTS_READ)?;
    let languages = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(LanguagePreferences::from_header)
        .unwrap_or_default();
    // Consistent-Through is read before the statements, so it never claims more than
    // they could show; a query reads both in one go.
    let (consistent_through, answer) = match parse_statements_get(req.query_string(), config.max_page_size) {
        Err(error) => (store.consistent_through(principal.store).await?, Err(error)),
        Ok(StatementsGet::Single { id, voided, format, attachments }) => {
            let consistent_through = store.consistent_through(principal.store).await?;
            let view = View { format, languages: &languages, version };
            (consistent_through, single(&store, &principal, id, voided, &view, attachments).await)
        }
        Ok(StatementsGet::Query { mut query, format, attachments, params }) => {
            if reads_only_own(&principal) {
                query.filter.authority = Some(principal.agent.clone());
            }
            let (consistent_through, page) = store.consistent_page(principal.store, query).await?;
            let view = View { format, languages: &languages, version };
            let answer =
                page_of(&store, &principal, page, &params, &view, attachments, consistent_through).await;
            (consistent_through, answer)
        }
    };
    let mut response = answer.unwrap_or_else(|error| error.error_response());
    let value = HeaderValue::from_str(&consistent_through.to_rfc3339())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    response.headers_mut().insert(HeaderName::from_static(CONSISTENT_THROUGH), value);
    Ok(response)
}

/// `GET /xapi/statements?statementId=…` (or `voidedStatementId`).
async fn single<S: StatementReader + AttachmentReader + ActivityReader + Clone + 'static>(
    store: &Data<S>,
    principal: &Principal,
    id: Uuid,
    voided: bool,
    view: &View<'_>,
    with_attachments: bool,
) -> Result<HttpResponse, ApiError> {
    let statement = store.statement(principal.store, id).await?.ok_or(ApiError::NotFound)?;
    // A voided statement is found only as voidedStatementId, and only a voided one
    // is (xAPI 1.0.3 Data §2.3.2).
    if statement.voided != voided {
        return Err(ApiError::NotFound);
    }
    // Another credential's statement is, for statements/read/mine, as if absent.
    if reads_only_own(principal) && !authored_by(&statement, principal) {
        return Err(ApiError::NotFound);
    }
    let mut response = HttpResponse::Ok();
    response.insert_header((header::LAST_MODIFIED, statement.stored.to_http_date()));
    let statements = vec![statement];
    let body = render(store.get_ref(), principal, &statements, view).await?.remove(0).into_owned();
    respond(response, store, principal, &statements, body, with_attachments).await
}

/// A page of a statement query, as a StatementResult with its `more` link.
async fn page_of<S: AttachmentReader + ActivityReader + Clone + 'static>(
    store: &Data<S>,
    principal: &Principal,
    page: StatementPage,
    params: &str,
    view: &View<'_>,
    with_attachments: bool,
    consistent_through: Timestamp,
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    let newest = page.statements.iter().map(|s| s.stored).max();
    response.insert_header((header::LAST_MODIFIED, newest.unwrap_or(consistent_through).to_http_date()));
    let more = page.next.map(|cursor| format!("/xapi/statements?more={}", encode_more(cursor, params)));
    let rendered = render(store.get_ref(), principal, &page.statements, view).await?;
    let mut body = String::with_capacity(rendered.iter().map(|s| s.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"statements\":[");
    for (i, statement) in rendered.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(statement);
    }
    body.push_str("],\"more\":");
    body.push_str(&Value::String(more.unwrap_or_default()).to_string());
    body.push('}');
    drop(rendered);
    respond(response, store, principal, &page.statements, body, with_attachments).await
}

/// The answer: the JSON alone, or (xAPI 1.0.3 Communication §2.1.3: `attachments=true`)
/// multipart/mixed with the content of every attachment the statements reference, once
/// each.
async fn respond<S: AttachmentReader + Clone + 'static>(
    mut response: actix_web::HttpResponseBuilder,
    store: &Data<S>,
    principal: &Principal,
    statements: &[StoredStatement],
    body: String,
    with_attachments: bool,
) -> Result<HttpResponse, ApiError> {
    if !with_attachments {
        return Ok(response.content_type("application/json").body(body));
    }
    let parsed: Vec<Map<String, Value>> =
        statements.iter().filter_map(|s| serde_json::from_str(&s.body).ok()).collect();
    let held = store.attachments(principal.store, attachments::hashes(&parsed)).await?;
    Ok(attachments::multipart_response(response, body, store.clone(), principal.store, held))
}

/// How stored statements are shown to a reader: the `format`, its languages, and the
/// xAPI version the reader speaks.
struct View<'a> {
    format: Format,
    languages: &'a LanguagePreferences,
    version: Version,
}

impl View<'_> {
    /// Whether a stored statement reads as it is: the exact format, and nothing in it the
    /// reader's version does not know (2.0.0 context agents and groups for a 1.0.3 reader;
    /// a substring test spares parsing the common case).
    fn keeps(&self, body: &str) -> bool {
        self.format == Format::Exact
            && (self.version == Version::V2_0
                || !(body.contains("\"contextAgents\"") || body.contains("\"contextGroups\"")))
    }
}

/// Stored statements as the reader asked for them: `exact` is the stored text as it is;
/// the other formats rewrite it, `canonical` with the activity definitions the LRS holds.
async fn render<'a, S: ActivityReader>(
    store: &S,
    principal: &Principal,
    statements: &'a [StoredStatement],
    view: &View<'_>,
) -> Result<Vec<Cow<'a, str>>, ApiError> {
    if statements.iter().all(|s| view.keeps(&s.body)) {
        return Ok(statements.iter().map(|s| Cow::Borrowed(s.body.as_str())).collect());
    }
    let mut parsed = statements
        .iter()
        .map(|s| {
            serde_json::from_str::<Map<String, Value>>(&s.body)
                .map_err(|e| ApiError::Internal(format!("stored statement {} is not JSON: {e}", s.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if view.format == Format::Canonical {
        let mut ids: Vec<String> = parsed.iter().flat_map(xapi::activity_ids).collect();
        ids.sort_unstable();
        ids.dedup();
        let held = store.activity_definitions(principal.store, ids).await?;
        for json in &mut parsed {
            xapi::use_held_definitions(json, &held);
        }
    }
    Ok(parsed
        .into_iter()
        .map(|mut json| {
            xapi::format_for_version(&mut json, view.version);
            xapi::format_statement(&mut json, view.format, view.languages);
            Cow::Owned(Value::Object(json).to_string())
        })
        .collect())
}
