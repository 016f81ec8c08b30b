//! `/admin/stores/{id}/forwarding`: a store's forwarding rules (see `crate::forwarding`),
//! managed by an administrator of the store. The target's secret is taken once and never
//! shown again.

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};
use store::forwarding::{ForwardingFilter, ForwardingRule, ForwardingStore, NewForwarding};
use store::{AuditWriter, CredentialReader, RollupReader, StoreId, TenantReader};

use super::administered;
use crate::{ApiError, AppConfig, audit, forwarding_secret};

/// Failed attempts before a batch is given up on, unless a rule says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    url: String,
    key: String,
    secret: String,
    #[serde(default)]
    filter: Option<Filter>,
    #[serde(default)]
    max_attempts: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    activity_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    enabled: bool,
}

/// A rule as the API shows it: never its secret.
async fn rule_json<S: RollupReader>(store: &S, rule: &ForwardingRule) -> Result<Value, ApiError> {
    let head = store.ingest_head(rule.store).await?;
    Ok(json!({
        "id": rule.id,
        "store": rule.store,
        "url": rule.url,
        "key": rule.key,
        "filter": { "verbs": rule.filter.verbs, "activity_prefix": rule.filter.activity_prefix },
        "enabled": rule.enabled,
        "max_attempts": rule.max_attempts,
        "created": rule.created.to_rfc3339(),
        "delivered_through": rule.delivered,
        "lag": head.since(rule.delivered),
        "failures": rule.failures,
        "last_error": rule.last_error,
        "next_attempt": (rule.next_attempt.as_micros() > 0).then(|| rule.next_attempt.to_rfc3339()),
        "dead_letters": rule.dead_letters,
    }))
}

fn checked(body: NewRule, store: StoreId) -> Result<NewForwarding, ApiError> {
    let url = body.url.trim().trim_end_matches('/').to_string();
    let absolute = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    if !absolute.is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace)) {
        return Err(ApiError::bad_request("url", "must be the target's xAPI base URL, http:// or https://"));
    }
    if body.key.is_empty() || body.key.contains(':') {
        return Err(ApiError::bad_request("key", "must be the target's key, without a colon"));
    }
    if body.secret.is_empty() {
        return Err(ApiError::bad_request("secret", "must be the target's secret"));
    }
    let filter = body.filter.unwrap_or_default();
    if let Some(verb) = filter.verbs.iter().find(|v| !xapi::is_valid_iri(v)) {
        return Err(ApiError::bad_request("filter.verbs", format!("{verb:?} is not an IRI")));
    }
    let max_attempts = body.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=100).contains(&max_attempts) {
        return Err(ApiError::bad_request("max_attempts", "must be 1 to 100"));
    }
    Ok(NewForwarding {
        store,
        url,
        key: body.key,
        secret: body.secret,
        filter: ForwardingFilter {
            verbs: filter.verbs,
            activity_prefix: filter.activity_prefix.filter(|p| !p.is_empty()),
        },
        max_attempts,
    })
}

/// `POST /admin/stores/{id}/forwarding {"url", "key", "secret", "filter"?, "max_attempts"?}`
/// → 201 with the rule. It delivers every statement of the store, from the first.
pub async fn create<
    S: TenantReader + CredentialReader + ForwardingStore + RollupReader + AuditWriter + 'static,
>(
    req: HttpRequest,
    id: Path<StoreId>,
    body: Json<NewRule>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    let mut new = checked(body.into_inner(), id)?;
    new.secret = forwarding_secret::stored(config.connector_key.as_ref(), id, &new.url, &new.secret);
    let rule = store.create_forwarding(new).await?;
    let details = audit::forwarding_details(&rule);
    audit::record(store.get_ref(), &principal, "forwarding.create", id, rule.id.to_string(), details).await;
    Ok(HttpResponse::Created().json(rule_json(store.get_ref(), &rule).await?))
}

/// `GET /admin/stores/{id}/forwarding`: the store's rules with their lag, last error and
/// dead letters.
pub async fn list<S: TenantReader + CredentialReader + ForwardingStore + RollupReader + 'static>(
    req: HttpRequest,
    id: Path<StoreId>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    administered(&req, store.get_ref(), &config, id).await?;
    let mut rules = Vec::new();
    for rule in store.forwarding_rules(Some(id)).await? {
        rules.push(rule_json(store.get_ref(), &rule).await?);
    }
    Ok(HttpResponse::Ok().json(rules))
}

async fn find<S: ForwardingStore>(store: &S, id: StoreId, rule: i64) -> Result<ForwardingRule, ApiError> {
    store.forwarding_rules(Some(id)).await?.into_iter().find(|r| r.id == rule).ok_or(ApiError::NotFound)
}

pub async fn get<S: TenantReader + CredentialReader + ForwardingStore + RollupReader + 'static>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule) = path.into_inner();
    administered(&req, store.get_ref(), &config, id).await?;
    let rule = find(store.get_ref(), id, rule).await?;
    Ok(HttpResponse::Ok().json(rule_json(store.get_ref(), &rule).await?))
}

/// `PATCH /admin/stores/{id}/forwarding/{rule} {"enabled": bool}`: turns a rule on or off.
pub async fn enable<
    S: TenantReader + CredentialReader + ForwardingStore + RollupReader + AuditWriter + 'static,
>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    body: Json<Enabled>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule) = path.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    if !store.enable_forwarding(id, rule, body.enabled).await? {
        return Err(ApiError::NotFound);
    }
    let action = if body.enabled { "forwarding.enable" } else { "forwarding.disable" };
    audit::record(store.get_ref(), &principal, action, id, rule.to_string(), json!({})).await;
    let rule = find(store.get_ref(), id, rule).await?;
    Ok(HttpResponse::Ok().json(rule_json(store.get_ref(), &rule).await?))
}

pub async fn delete<S: TenantReader + CredentialReader + ForwardingStore + AuditWriter + 'static>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule) = path.into_inner();
    let principal = administered(&req, store.get_ref(), &config, id).await?;
    if !store.delete_forwarding(id, rule).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(store.get_ref(), &principal, "forwarding.delete", id, rule.to_string(), json!({})).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /admin/stores/{id}/forwarding/{rule}/dead-letters`: the statements given up on.
pub async fn dead_letters<S: TenantReader + CredentialReader + ForwardingStore + 'static>(
    req: HttpRequest,
    path: Path<(StoreId, i64)>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule) = path.into_inner();
    administered(&req, store.get_ref(), &config, id).await?;
    find(store.get_ref(), id, rule).await?;
    let letters: Vec<Value> = store
        .dead_letters(id, rule)
        .await?
        .iter()
        .map(|d| json!({ "seq": d.seq, "statement": d.statement, "error": d.error, "at": d.at.to_rfc3339() }))
        .collect();
    Ok(HttpResponse::Ok().json(letters))
}
