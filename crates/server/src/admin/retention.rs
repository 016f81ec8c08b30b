//! Retention under `/admin`: a store's policy (`PUT /admin/stores/{id}/retention`), and a
//! one-off purge of the statements stored before an instant (`DELETE /admin/statements`).

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use store::retention::{self, Purger};
use store::{AuditWriter, CredentialReader, RetentionPolicy, StoreId, TenantReader, TenantWriter};

use super::{admin, administers, store_json};
use crate::audit;
use crate::query::QueryParams;
use crate::{ApiError, AppConfig};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Policy {
    /// Days statements are kept after they are stored; null keeps them for ever.
    statements_days: Option<u32>,
    /// Days tickets are kept after they were created; null keeps them for ever.
    tickets_days: Option<u32>,
}

/// `PUT /admin/stores/{id}/retention {"statements_days": 365|null, "tickets_days": 730|null}`
/// → 200 with the store.
pub(super) async fn put_policy<S: TenantReader + TenantWriter + CredentialReader + AuditWriter + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    body: Json<Policy>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let id = id.into_inner();
    for (name, days) in [("statements_days", body.statements_days), ("tickets_days", body.tickets_days)] {
        if days == Some(0) {
            return Err(ApiError::bad_request(name, "must be at least 1 day, or null to keep for ever"));
        }
    }
    let policy = RetentionPolicy { statements_days: body.statements_days, tickets_days: body.tickets_days };
    if !administers(&principal, id) || !store.set_retention(id, policy).await? {
        return Err(ApiError::NotFound);
    }
    let info = store.store_info(id).await?.ok_or(ApiError::NotFound)?;
    let details = serde_json::to_value(policy).unwrap_or_default();
    audit::record(store.get_ref(), &principal, "store.retention", id, id.to_string(), details).await;
    Ok(HttpResponse::Ok().json(store_json(&info)))
}

/// `DELETE /admin/statements?until=T[&dry_run=true][&store=ID]` → 200 with what was (or
/// would be) removed: the statements stored before `until`, as the policy's purge removes
/// them. The store is the credential's, or `store` for an admin of every store.
pub(super) async fn purge<S: Purger + TenantReader + CredentialReader + AuditWriter + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let params = QueryParams::parse(req.query_string(), &["until", "dry_run", "store"])?;
    let dry_run = params.boolean("dry_run")?;
    let until = params
        .timestamp("until")?
        .ok_or_else(|| ApiError::bad_request("until", "the until parameter is required"))?;
    let id = super::store_named(&principal, &params, store.get_ref()).await?;
    let report = retention::purge(store.get_ref(), id, Some(until), None, dry_run).await?;
    if !dry_run {
        audit::record(store.get_ref(), &principal, audit::PURGE, id, "", audit::purge_details(&report)).await;
    }
    Ok(HttpResponse::Ok().json(report))
}
