//! The Statement resource: `PUT`, `POST`, `GET` and `HEAD` on `/xapi/statements`
//! (xAPI 1.0.3 Communication §2.1).

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value};
use store::{StatementBatch, Store, StoredStatement, WriteMode};
use uuid::Uuid;
use xapi::{Format, LanguagePreferences, Statement, Timestamp, Version};

use crate::auth::{Principal, authenticate};
use crate::params::{StatementsGet, encode_more, parse_statements_get};
use crate::query::QueryParams;
use crate::version::XapiVersion;
use crate::{ApiError, AppConfig};

const CONSISTENT_THROUGH: &str = "x-experience-api-consistent-through";

/// Scopes that allow storing statements (xAPI 1.0.3 Communication §4.2).
const WRITE_SCOPES: &[&str] = &["statements/write", "all"];

/// Scopes that allow reading every statement of the store. (`statements/read/mine`, which
/// reads only the credential's own statements, is not honoured yet and gets 403.)
const READ_SCOPES: &[&str] = &["statements/read", "all/read", "all"];

/// `PUT /xapi/statements?statementId=…`: stores one statement under the given id → 204.
pub async fn put<S: Store>(
    req: HttpRequest,
    body: Bytes,
    store: Data<S>,
    config: Data<AppConfig>,
    XapiVersion(version): XapiVersion,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config.authority_home_page).await?;
    principal.require(WRITE_SCOPES)?;
    require_json(&req)?;
    let params = QueryParams::parse(req.query_string(), &["statementId"])?;
    let id = params.require_uuid("statementId")?;
    let mut json: Value = parse_json(&body)?;
    let Value::Object(object) = &mut json else {
        return Err(ApiError::bad_request("", "PUT takes a single statement object"));
    };
    match object.get("id").and_then(Value::as_str).map(Uuid::parse_str) {
        None if !object.contains_key("id") => {
            object.insert("id".into(), Value::String(id.to_string()));
        }
        Some(Ok(given)) if given == id => {}
        _ => {
            return Err(ApiError::bad_request("id", "must equal the statementId parameter"));
        }
    }
    let statement = Statement::parse(json, version)?;
    write(store.get_ref(), &principal, version, WriteMode::Put, vec![statement]).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /xapi/statements`: stores one statement or an array of them, atomically → 200
/// with their ids in order.
pub async fn post<S: Store>(
    req: HttpRequest,
    body: Bytes,
    store: Data<S>,
    config: Data<AppConfig>,
    XapiVersion(version): XapiVersion,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config.authority_home_page).await?;
    principal.require(WRITE_SCOPES)?;
    require_json(&req)?;
    QueryParams::parse(req.query_string(), &[])?;
    let statements = xapi::parse_statements(&body, version)?;
    let ids = write(store.get_ref(), &principal, version, WriteMode::Post, statements).await?;
    Ok(HttpResponse::Ok().json(ids))
}

async fn write<S: Store>(
    store: &S,
    principal: &Principal,
    version: Version,
    mode: WriteMode,
    statements: Vec<Statement>,
) -> Result<Vec<Uuid>, ApiError> {
    let batch = StatementBatch {
        store: principal.store,
        mode,
        version,
        authority: principal.authority.clone(),
        statements,
    };
    Ok(store.write_statements(batch).await?)
}

/// `GET`/`HEAD /xapi/statements`: one statement, or a page of a filtered query. Every
/// answer after authentication, errors included, carries Consistent-Through, which
/// clients poll on.
pub async fn get<S: Store>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, store.get_ref(), &config.authority_home_page).await?;
    principal.require(READ_SCOPES)?;
    // Read before the query, so it never claims more than the query could see.
    let consistent_through = store.consistent_through(principal.store).await?;
    let mut response = match read(&req, store.get_ref(), &config, &principal, consistent_through).await {
        Ok(response) => response,
        Err(error) => error.error_response(),
    };
    let value = HeaderValue::from_str(&consistent_through.to_rfc3339())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    response.headers_mut().insert(HeaderName::from_static(CONSISTENT_THROUGH), value);
    Ok(response)
}

async fn read<S: Store>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
    principal: &Principal,
    consistent_through: Timestamp,
) -> Result<HttpResponse, ApiError> {
    let request = parse_statements_get(req.query_string(), config.max_page_size)?;
    let languages = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(LanguagePreferences::from_header)
        .unwrap_or_default();
    let mut response = HttpResponse::Ok();
    match request {
        StatementsGet::Single { id, voided, format } => {
            let statement = store.statement(principal.store, id).await?.ok_or(ApiError::NotFound)?;
            // A voided statement is found only as voidedStatementId, and only a voided one
            // is (xAPI 1.0.3 Data §2.3.2).
            if statement.voided != voided {
                return Err(ApiError::NotFound);
            }
            response.insert_header((header::LAST_MODIFIED, statement.stored.to_http_date()));
            let mut rendered =
                render(store, principal, std::slice::from_ref(&statement), format, &languages).await?;
            Ok(response.content_type("application/json").body(rendered.remove(0).into_owned()))
        }
        StatementsGet::Query { query, format, params } => {
            let page = store.query_statements(principal.store, query).await?;
            let newest = page.statements.iter().map(|s| s.stored).max();
            response
                .insert_header((header::LAST_MODIFIED, newest.unwrap_or(consistent_through).to_http_date()));
            let more =
                page.next.map(|cursor| format!("/xapi/statements?more={}", encode_more(cursor, &params)));
            let rendered = render(store, principal, &page.statements, format, &languages).await?;
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
            Ok(response.content_type("application/json").body(body))
        }
    }
}

/// Stored statements in the requested format: `exact` is the stored text as it is; the
/// other formats rewrite it, `canonical` with the activity definitions the LRS holds.
async fn render<'a, S: Store>(
    store: &S,
    principal: &Principal,
    statements: &'a [StoredStatement],
    format: Format,
    languages: &LanguagePreferences,
) -> Result<Vec<Cow<'a, str>>, ApiError> {
    if format == Format::Exact {
        return Ok(statements.iter().map(|s| Cow::Borrowed(s.body.as_str())).collect());
    }
    let mut parsed = statements
        .iter()
        .map(|s| {
            serde_json::from_str::<Map<String, Value>>(&s.body)
                .map_err(|e| ApiError::Internal(format!("stored statement {} is not JSON: {e}", s.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if format == Format::Canonical {
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
            xapi::format_statement(&mut json, format, languages);
            Cow::Owned(Value::Object(json).to_string())
        })
        .collect())
}

/// Statement bodies must be JSON (multipart arrives with attachments).
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::bad_request("Content-Type", format!("must be application/json, not {content_type:?}")))
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("", format!("request body is not valid JSON: {e}")))
}
