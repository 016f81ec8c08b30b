//! `GET /admin/audit`: the audit log, newest first, filtered and paged. An instance admin
//! reads every store's entries; a store's admin reads its own store's, and another store
//! is, to it, not there (404).

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use store::{AuditEntry, AuditFilter, AuditReader, CredentialReader, StoreId, TenantReader};

use super::{admin, administers};
use crate::auth::Principal;
use crate::query::QueryParams;
use crate::{ApiError, AppConfig};

/// Entries per page without a `limit`, and the most a `limit` gets.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

const PARAMS: [&str; 7] = ["store", "action", "actor", "since", "until", "limit", "more"];

/// What one request for the log asks for.
#[derive(Debug, PartialEq)]
struct AuditQuery {
    filter: AuditFilter,
    before: Option<i64>,
    limit: usize,
    /// The query string without `more`, carried in the next page's token.
    params: String,
}

/// Reads the query string; a store this principal does not administer is not there.
fn parse(query_string: &str, principal: &Principal) -> Result<AuditQuery, ApiError> {
    let params = QueryParams::parse(query_string, &PARAMS)?;
    if let Some(token) = params.get("more") {
        if params.names().count() > 1 {
            return Err(ApiError::bad_request("more", "more cannot be combined with other parameters"));
        }
        let (before, original) = decode_more(token)?;
        let query = parse(&original, principal)?;
        return Ok(AuditQuery { before: Some(before), ..query });
    }
    let store = params
        .get("store")
        .map(|v| v.parse::<StoreId>().map_err(|_| ApiError::bad_request("store", "must be a store id")))
        .transpose()?;
    let store = match store {
        Some(store) if !administers(principal, store) => return Err(ApiError::NotFound),
        Some(store) => Some(store),
        None if principal.is_instance_admin() => None,
        None => Some(principal.store),
    };
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => DEFAULT_LIMIT,
            Ok(limit) => limit.min(MAX_LIMIT),
            Err(_) => return Err(ApiError::bad_request("limit", "must be a non-negative integer")),
        },
    };
    let filter = AuditFilter {
        store,
        action: params.get("action").map(str::to_string),
        actor: params.get("actor").map(str::to_string),
        since: params.timestamp("since")?,
        until: params.timestamp("until")?,
    };
    Ok(AuditQuery { filter, before: None, limit, params: query_string.to_string() })
}

/// A `more` token: the id the next page starts below, and the original query string.
fn encode_more(before: i64, params: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{before}.{params}"))
}

fn decode_more(token: &str) -> Result<(i64, String), ApiError> {
    let invalid = || ApiError::bad_request("more", "is not a valid more token");
    let text =
        URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let (before, params) = text.split_once('.').ok_or_else(invalid)?;
    Ok((before.parse().map_err(|_| invalid())?, params.to_string()))
}

fn entry_json(entry: &AuditEntry) -> Value {
    json!({
        "id": entry.id,
        "at": entry.at.to_rfc3339(),
        "store": entry.store,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
    })
}

/// `GET /admin/audit?store=&action=&actor=&since=&until=&limit=&more=` →
/// `{"entries": [...], "more": "/admin/audit?more=…" or ""}`.
pub async fn list<S: AuditReader + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let query = parse(req.query_string(), &principal)?;
    let page = store.audit_page(query.filter, query.before, query.limit).await?;
    let more = page.next.map(|next| format!("/admin/audit?more={}", encode_more(next, &query.params)));
    let entries: Vec<Value> = page.entries.iter().map(entry_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "entries": entries, "more": more.unwrap_or_default() })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scopes::Scope;

    fn admin_of(store: i64) -> Principal {
        Principal {
            key: "k".into(),
            store: StoreId::new(store),
            scopes: vec![Scope::Admin],
            authority: json!({}),
            agent: xapi::AgentKey::of(json!({ "mbox": "mailto:a@example.com" }).as_object().unwrap())
                .unwrap(),
        }
    }

    #[test]
    fn a_more_token_carries_the_filter_and_where_the_page_starts() {
        let first = parse("action=goal.put&limit=5", &admin_of(1)).unwrap();
        let token = encode_more(42, &first.params);
        let next = parse(&format!("more={token}"), &admin_of(1)).unwrap();
        assert_eq!(next, AuditQuery { before: Some(42), ..first });
    }

    #[test]
    fn a_store_admin_reads_its_own_store_and_no_other() {
        assert_eq!(parse("", &admin_of(2)).unwrap().filter.store, Some(StoreId::new(2)));
        assert_eq!(parse("", &admin_of(1)).unwrap().filter.store, None);
        assert!(matches!(parse("store=3", &admin_of(2)), Err(ApiError::NotFound)));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (q, name) in [
            ("store=x", "store"),
            ("since=yesterday", "since"),
            ("until=1", "until"),
            ("limit=-1", "limit"),
            ("more=!!", "more"),
            ("more=abc&limit=2", "more"),
            ("verb=x", "verb"),
        ] {
            let err = parse(q, &admin_of(1)).unwrap_err();
            assert!(matches!(&err, ApiError::BadRequest { path: Some(p), .. } if p == name), "{q}: {err:?}");
        }
    }
}
