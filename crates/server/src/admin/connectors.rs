//! `/admin/stores/{id}/connectors`: a store's helpdesk connectors (see
//! `insights::connectors`), managed by an administrator of the store. The helpdesk
//! credentials are sealed on the way in and never shown again.

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use insights::connectors::{self, ConnectorError, ConnectorRequest, RunNowError, SecretKey};
use serde_json::{Value, json};
use store::connectors::Connector;
use store::{
    AuditWriter, ConnectorReader, ConnectorWriter, CredentialReader, StoreId, TenantReader, TicketWriter,
};
use xapi::Timestamp;

use super::administered;
use crate::{ApiError, AppConfig, audit};

/// A connector as the API shows it: never its credentials.
pub(crate) fn connector_json(connector: &Connector) -> Value {
    let instant = |micros: i64| Timestamp::from_micros(micros).to_rfc3339();
    json!({
        "id": connector.id,
        "store": connector.store,
        "kind": connector.kind,
        "base_url": connector.base_url,
        "every": connectors::every_text(connector.every_seconds),
        "filter": (!connector.filter.is_empty()).then_some(&connector.filter),
        "created": connector.created.to_rfc3339(),
        "cursor": connector.cursor,
        "last_run": connector.last_run.map(|t| t.to_rfc3339()),
        "next_run": connector.next_run.to_rfc3339(),
        "last_error": connector.last_error,
        "tickets_fetched": connector.tickets_fetched,
        "known_through": connector.known_through.map(instant),
    })
}

fn key(config: &AppConfig) -> Result<&SecretKey, ApiError> {
    config.connector_key.as_ref().ok_or_else(|| ApiError::NotConfigured(ConnectorError::NoKey.to_string()))
}

async fn find<S: ConnectorReader>(store: &S, id: StoreId, connector: i64) -> Result<Connector, ApiError> {
    store.connectors(Some(id)).await?.into_iter().find(|c| c.id == connector).ok_or(ApiError::NotFound)
}

/// `POST /admin/stores/{id}/connectors {"kind", "base_url", "credentials", "every", "filter"?}`
/// → 201 with the connector. Its first scheduled run is one `every` from now; `…/run`
/// runs it at once.
pub async fn create<S: TenantReader + CredentialReader + ConnectorWriter + AuditWriter + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    body: Json<ConnectorRequest>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    let new =
        connectors::prepare(body.into_inner(), id, config.connector_key.as_ref()).map_err(|e| match e {
            ConnectorError::Invalid { property, .. } => ApiError::bad_request(property, e.to_string()),
            ConnectorError::NoKey => ApiError::NotConfigured(e.to_string()),
        })?;
    let connector = store.create_connector(new).await?;
    let (subject, details) = (connector.id.to_string(), audit::connector_details(&connector));
    audit::record(store.get_ref(), &principal, "connector.create", id, subject, details).await;
    Ok(HttpResponse::Created().json(connector_json(&connector)))
}

/// `GET /admin/stores/{id}/connectors`: the store's connectors with the state of their runs.
pub async fn list<S: TenantReader + CredentialReader + ConnectorReader + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    administered(&req, store.get_ref(), &config, id).await?;
    let listed: Vec<Value> = store.connectors(Some(id)).await?.iter().map(connector_json).collect();
    Ok(HttpResponse::Ok().json(listed))
}

pub async fn get<S: TenantReader + CredentialReader + ConnectorReader + 'static>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, connector) = path.into_inner();
    administered(&req, store.get_ref(), &config, id).await?;
    Ok(HttpResponse::Ok().json(connector_json(&find(store.get_ref(), id, connector).await?)))
}

/// `DELETE /admin/stores/{id}/connectors/{connector}`: the tickets it fetched stay.
pub async fn delete<S: TenantReader + CredentialReader + ConnectorWriter + AuditWriter + 'static>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, connector) = path.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    if !store.delete_connector(id, connector).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(store.get_ref(), &principal, "connector.delete", id, connector.to_string(), json!({}))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/stores/{id}/connectors/{connector}/run`: runs it now and answers it as the
/// run left it (409 while another run of it is in progress).
pub async fn run<
    S: TenantReader
        + CredentialReader
        + ConnectorReader
        + ConnectorWriter
        + TicketWriter
        + AuditWriter
        + 'static,
>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, connector) = path.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    let ran =
        connectors::run_now(store.get_ref(), id, connector, key(&config)?).await.map_err(|e| match e {
            RunNowError::NotFound => ApiError::NotFound,
            RunNowError::Busy => ApiError::Conflict(e.to_string()),
            RunNowError::Store(e) => e.into(),
        })?;
    let details = json!({ "tickets_fetched": ran.tickets_fetched, "failed": ran.last_error.is_some() });
    audit::record(store.get_ref(), &principal, "connector.run", id, connector.to_string(), details).await;
    Ok(HttpResponse::Ok().json(connector_json(&ran)))
}
