//! The admin API: stores (tenants) and their credentials, under `/admin`.
//!
//! Credentials with the `admin` scope in the default store (such as the one made from
//! `TALLY_ADMIN_KEY`) administer every store; an `admin` credential of another store
//! administers that store only, and anything of another store is, to it, not there (404).

use actix_web::web::{self, Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{
    AuditReader, AuditWriter, ConnectorReader, ConnectorWriter, Credential, CredentialReader,
    CredentialWriter, ForwardingStore, PersonEraser, RollupReader, StatementWriter, StoreId, StoreInfo,
    TenantReader, TenantWriter, TicketWriter,
};

use crate::audit;
use crate::auth::{Principal, authenticate};
mod audit_log;
mod connectors;
mod erasure;
mod forwarding;
mod retention;

use crate::bulk::{self, ImportError, ImportTarget};
use crate::credentials;
use crate::{ApiError, AppConfig};

/// Registers the admin resources.
pub fn service<
    S: TenantReader
        + TenantWriter
        + CredentialReader
        + CredentialWriter
        + StatementWriter
        + ForwardingStore
        + ConnectorReader
        + ConnectorWriter
        + TicketWriter
        + RollupReader
        + PersonEraser
        + AuditReader
        + AuditWriter
        + store::retention::Purger
        + 'static,
>() -> actix_web::Scope {
    web::scope("/admin")
        .app_data(web::JsonConfig::default().error_handler(|error, _| {
            ApiError::bad_request("", format!("the request body is not the expected JSON: {error}")).into()
        }))
        .route("/stores", web::post().to(create_store::<S>))
        .route("/stores", web::get().to(list_stores::<S>))
        .route("/stores/{id}", web::get().to(get_store::<S>))
        .route("/stores/{id}", web::patch().to(rename_store::<S>))
        .route("/stores/{id}", web::delete().to(revoke_store::<S>))
        .route("/stores/{id}/statements.ndjson", web::post().to(import_statements::<S>))
        .route("/stores/{id}/forwarding", web::post().to(forwarding::create::<S>))
        .route("/stores/{id}/forwarding", web::get().to(forwarding::list::<S>))
        .route("/stores/{id}/forwarding/{rule}", web::get().to(forwarding::get::<S>))
        .route("/stores/{id}/forwarding/{rule}", web::patch().to(forwarding::enable::<S>))
        .route("/stores/{id}/forwarding/{rule}", web::delete().to(forwarding::delete::<S>))
        .route("/stores/{id}/forwarding/{rule}/dead-letters", web::get().to(forwarding::dead_letters::<S>))
        .route("/agents", web::delete().to(erasure::erase::<S>))
        .route("/statements", web::delete().to(retention::purge::<S>))
        .route("/stores/{id}/retention", web::put().to(retention::put_policy::<S>))
        .route("/stores/{id}/connectors", web::post().to(connectors::create::<S>))
        .route("/stores/{id}/connectors", web::get().to(connectors::list::<S>))
        .route("/stores/{id}/connectors/{connector}", web::get().to(connectors::get::<S>))
        .route("/stores/{id}/connectors/{connector}", web::delete().to(connectors::delete::<S>))
        .route("/stores/{id}/connectors/{connector}/run", web::post().to(connectors::run::<S>))
        .route("/credentials", web::post().to(create_credential::<S>))
        .route("/credentials", web::get().to(list_credentials::<S>))
        .route("/credentials/{key}", web::patch().to(rename_credential::<S>))
        .route("/credentials/{key}", web::delete().to(revoke_credential::<S>))
        .route("/audit", web::get().to(audit_log::list::<S>))
}

pub(crate) async fn admin<S: CredentialReader + TenantReader>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, store, config).await?;
    principal.require(crate::scopes::ADMIN)?;
    Ok(principal)
}

/// The store a request about a store's data is for: its `store` parameter (for an admin of
/// every store) or the credential's own. 404 for a store it does not administer or that
/// does not exist.
pub(crate) async fn store_named<S: TenantReader>(
    principal: &Principal,
    params: &crate::query::QueryParams,
    store: &S,
) -> Result<StoreId, ApiError> {
    let id = match params.get("store") {
        Some(text) => text
            .parse::<StoreId>()
            .map_err(|_| ApiError::bad_request("store", "must be a store id (a number)"))?,
        None => principal.store,
    };
    if !administers(principal, id) || store.store_info(id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(id)
}

/// Who asks, when the credential administers the store of the path and it exists.
pub(crate) async fn administered<S: TenantReader + CredentialReader>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
    id: StoreId,
) -> Result<Principal, ApiError> {
    let principal = admin(req, store, config).await?;
    match store.store_info(id).await? {
        Some(info) if administers(&principal, info.id) => Ok(principal),
        _ => Err(ApiError::NotFound),
    }
}

/// Stores this principal administers: every store, or its own.
pub(crate) fn administers(principal: &Principal, store: StoreId) -> bool {
    principal.is_instance_admin() || principal.store == store
}

fn instance_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_instance_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin credential of the default store manages stores".into()))
    }
}

fn store_json(info: &StoreInfo) -> Value {
    json!({ "id": info.id, "name": info.name, "created": info.created.to_rfc3339(), "revoked": info.revoked,
            "retention": info.retention })
}

fn credential_json(credential: &Credential) -> Value {
    json!({
        "key": credential.key,
        "store": credential.store,
        "scopes": credential.scopes,
        "name": credential.name,
        "acts_for": credential.acts_for,
        "created": credential.created.to_rfc3339(),
        "revoked": credential.revoked,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Name {
    name: String,
}

fn checked_name(name: &str) -> Result<String, ApiError> {
    credentials::checked_name(name).map_err(|rule| ApiError::bad_request("name", rule))
}

/// `POST /admin/stores {"name"}` → 201 `{"id", "name", …}`.
async fn create_store<S: TenantWriter + CredentialReader + TenantReader + AuditWriter + 'static>(
    req: HttpRequest,
    body: Json<Name>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    instance_admin(&principal)?;
    let created = store.create_store(&checked_name(&body.name)?).await?;
    let details = json!({ "name": created.name });
    audit::record(store.get_ref(), &principal, "store.create", created.id, created.id.to_string(), details)
        .await;
    Ok(HttpResponse::Created().json(store_json(&created)))
}

async fn list_stores<S: TenantReader + CredentialReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let stores: Vec<Value> =
        store.stores().await?.iter().filter(|s| administers(&principal, s.id)).map(store_json).collect();
    Ok(HttpResponse::Ok().json(stores))
}

async fn get_store<S: TenantReader + CredentialReader + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let id = id.into_inner();
    if !administers(&principal, id) {
        return Err(ApiError::NotFound);
    }
    let info = store.store_info(id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(store_json(&info)))
}

/// `PATCH /admin/stores/{id} {"name"}` renames a store.
async fn rename_store<S: TenantReader + TenantWriter + CredentialReader + AuditWriter + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    body: Json<Name>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let id = id.into_inner();
    if !administers(&principal, id) || !store.rename_store(id, &checked_name(&body.name)?).await? {
        return Err(ApiError::NotFound);
    }
    let info = store.store_info(id).await?.ok_or(ApiError::NotFound)?;
    let details = json!({ "name": info.name });
    audit::record(store.get_ref(), &principal, "store.rename", id, id.to_string(), details).await;
    Ok(HttpResponse::Ok().json(store_json(&info)))
}

/// `DELETE /admin/stores/{id}` revokes a store: its data stays, its credentials stop
/// working on the next request.
async fn revoke_store<S: TenantWriter + CredentialReader + TenantReader + AuditWriter + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    instance_admin(&principal)?;
    let id = id.into_inner();
    if id == store::DEFAULT_STORE {
        return Err(ApiError::bad_request(
            "id",
            "the default store holds the instance's admin credentials; it cannot be revoked",
        ));
    }
    if !store.revoke_store(id).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(store.get_ref(), &principal, "store.revoke", id, id.to_string(), json!({})).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/stores/{id}/statements.ndjson`: stores the NDJSON body's statements in the
/// store, read as they arrive and stored in atomic batches (see [`bulk`]); answers what it
/// stored and each line it refused. The statements get this credential's authority, and
/// their activity definitions count (an administrator restores a store's data).
async fn import_statements<S: TenantReader + CredentialReader + StatementWriter + AuditWriter + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    body: web::Payload,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let id = id.into_inner();
    let info = store.store_info(id).await?.filter(|info| administers(&principal, info.id));
    match info {
        None => return Err(ApiError::NotFound),
        Some(info) if info.revoked => {
            return Err(ApiError::bad_request(
                "id",
                format!("store {id} is revoked: it takes no statements"),
            ));
        }
        Some(_) => {}
    }
    let content_type = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if !matches!(essence.as_deref(), None | Some("application/x-ndjson" | "application/ndjson")) {
        return Err(ApiError::bad_request(
            "Content-Type",
            "must be application/x-ndjson: one statement per line",
        ));
    }
    let target = ImportTarget {
        store: id,
        authority: principal.authority.clone(),
        define: true,
        max_line_bytes: config.max_body_bytes,
    };
    let report = bulk::import(store.get_ref(), &target, body, |_| {}).await.map_err(|e| match e {
        ImportError::Read(message) => ApiError::bad_request("", message),
        ImportError::Store(e) => e.into(),
    })?;
    let details = audit::statements_import_details(&report);
    audit::record(store.get_ref(), &principal, "statements.import", id, id.to_string(), details).await;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCredential {
    store: StoreId,
    scopes: Vec<String>,
    name: String,
    /// The user (an Agent) the client acts for.
    #[serde(default)]
    acts_for: Option<Value>,
}

/// `POST /admin/credentials {"store", "scopes", "name", "acts_for"?}` → 201 with the key
/// and the secret, shown this once.
async fn create_credential<S: CredentialReader + TenantReader + CredentialWriter + AuditWriter + 'static>(
    req: HttpRequest,
    body: Json<NewCredential>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let body = body.into_inner();
    if !administers(&principal, body.store) {
        return Err(ApiError::bad_request("store", format!("there is no store {}", body.store)));
    }
    credentials::check_scopes(&body.scopes).map_err(|rule| ApiError::bad_request("scopes", rule))?;
    if let Some(user) = &body.acts_for {
        xapi::parse_agent_param(&user.to_string()).map_err(|e| {
            ApiError::bad_request("acts_for", format!("must be an identified Agent: {}", e.message))
        })?;
    }
    let mut new = credentials::generate(&checked_name(&body.name)?, body.store, body.scopes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a secret: {e}")))?;
    new.credential.acts_for = body.acts_for;
    store.create_credential(new.credential.clone()).await.map_err(|e| match e {
        store::StoreError::Invalid { .. } => {
            ApiError::bad_request("store", format!("there is no store {}", body.store))
        }
        other => other.into(),
    })?;
    audit::record(
        store.get_ref(),
        &principal,
        "credential.create",
        new.credential.store,
        &new.credential.key,
        audit::credential_details(&new.credential),
    )
    .await;
    let mut answer = credential_json(&new.credential);
    answer["secret"] = json!(new.secret);
    Ok(HttpResponse::Created().json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFilter {
    store: Option<StoreId>,
}

/// `GET /admin/credentials[?store=…]`: credentials without their secrets.
async fn list_credentials<S: CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    filter: web::Query<CredentialFilter>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let scope = if principal.is_instance_admin() { filter.store } else { Some(principal.store) };
    let listed: Vec<Value> = store
        .list_credentials(scope)
        .await?
        .iter()
        .filter(|c| filter.store.is_none_or(|s| c.store == s))
        .map(credential_json)
        .collect();
    Ok(HttpResponse::Ok().json(listed))
}

/// The credential behind `key`, if this principal administers its store.
async fn administered_credential<S: CredentialReader>(
    principal: &Principal,
    store: &S,
    key: &str,
) -> Result<Credential, ApiError> {
    store.credential(key).await?.filter(|c| administers(principal, c.store)).ok_or(ApiError::NotFound)
}

/// `PATCH /admin/credentials/{key} {"name"}` renames a credential.
async fn rename_credential<S: CredentialReader + TenantReader + CredentialWriter + AuditWriter + 'static>(
    req: HttpRequest,
    key: Path<String>,
    body: Json<Name>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let credential = administered_credential(&principal, store.get_ref(), &key).await?;
    store.rename_credential(&credential.key, &checked_name(&body.name)?).await?;
    let renamed = administered_credential(&principal, store.get_ref(), &key).await?;
    let details = audit::credential_details(&renamed);
    audit::record(store.get_ref(), &principal, "credential.rename", renamed.store, &renamed.key, details)
        .await;
    Ok(HttpResponse::Ok().json(credential_json(&renamed)))
}

/// `DELETE /admin/credentials/{key}` revokes a credential, from the next request on.
async fn revoke_credential<S: CredentialReader + TenantReader + CredentialWriter + AuditWriter + 'static>(
    req: HttpRequest,
    key: Path<String>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let principal = admin(&req, store.get_ref(), &config).await?;
    let credential = administered_credential(&principal, store.get_ref(), &key).await?;
    store.revoke_credential(&credential.key).await?;
    let details = audit::credential_details(&credential);
    audit::record(
        store.get_ref(),
        &principal,
        "credential.revoke",
        credential.store,
        &credential.key,
        details,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
