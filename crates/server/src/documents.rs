//! The document resources: State (`/xapi/activities/state`), Activity Profile
//! (`/xapi/activities/profile`) and Agent Profile (`/xapi/agents/profile`)
//! (xAPI 1.0.3 Communication §2.3, §2.6, §2.7, with concurrency control from §3.1).

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use store::{
    CredentialReader, Document, DocumentKind, DocumentReader, DocumentScope, DocumentWrite,
    DocumentWriteMode, DocumentWriter, Preconditions, TenantReader,
};
use xapi::{Timestamp, Version};

use crate::auth::{Principal, authenticate};
use crate::query::QueryParams;
use crate::scopes::{self, Scope};
use crate::version::XapiVersion;
use crate::{ApiError, AppConfig};

/// Which document resource a route serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    State,
    ActivityProfile,
    AgentProfile,
}

impl Resource {
    fn kind(self) -> DocumentKind {
        match self {
            Resource::State => DocumentKind::State,
            Resource::ActivityProfile => DocumentKind::ActivityProfile,
            Resource::AgentProfile => DocumentKind::AgentProfile,
        }
    }

    /// The parameter naming one document.
    fn id_param(self) -> &'static str {
        match self {
            Resource::State => "stateId",
            Resource::ActivityProfile | Resource::AgentProfile => "profileId",
        }
    }

    fn params(self) -> &'static [&'static str] {
        match self {
            Resource::State => &["activityId", "agent", "registration", "stateId", "since"],
            Resource::ActivityProfile => &["activityId", "profileId", "since"],
            Resource::AgentProfile => &["agent", "profileId", "since"],
        }
    }

    /// Scopes that allow writing (xAPI 1.0.3 Communication §4.2); reading also accepts
    /// `all/read`.
    fn write_scopes(self) -> &'static [Scope] {
        match self {
            Resource::State => scopes::STATE_WRITE,
            Resource::ActivityProfile | Resource::AgentProfile => scopes::PROFILE_WRITE,
        }
    }

    fn read_scopes(self) -> &'static [Scope] {
        match self {
            Resource::State => scopes::STATE_READ,
            Resource::ActivityProfile | Resource::AgentProfile => scopes::PROFILE_READ,
        }
    }
}

/// Registers one document resource's methods.
pub fn service<S: DocumentReader + DocumentWriter + CredentialReader + TenantReader + 'static>(
    path: &str,
    resource: Resource,
) -> actix_web::Resource {
    web::resource(path)
        .app_data(Data::new(resource))
        .route(web::get().to(get::<S>))
        .route(web::head().to(get::<S>))
        .route(web::put().to(put::<S>))
        .route(web::post().to(post::<S>))
        .route(web::delete().to(delete::<S>))
}

/// What a request names: the documents' context, one document's id, and `since`.
struct Target {
    scope: DocumentScope,
    id: Option<String>,
    since: Option<Timestamp>,
}

/// Authenticates the request, checks that its credential has one of `scopes`, and reads
/// what it names (in the credential's store).
async fn authorized_target<S: CredentialReader + TenantReader>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
    resource: Resource,
    scopes: &[Scope],
) -> Result<Target, ApiError> {
    let principal = authenticate(req, store, config).await?;
    principal.require(scopes)?;
    target(req, resource, &principal)
}

fn target(req: &HttpRequest, resource: Resource, principal: &Principal) -> Result<Target, ApiError> {
    let params = QueryParams::parse(req.query_string(), resource.params())?;
    let activity_id = match resource {
        Resource::AgentProfile => String::new(),
        _ => {
            params.require("activityId")?;
            params.iri("activityId")?.unwrap_or_default()
        }
    };
    let agent = match resource {
        Resource::ActivityProfile => String::new(),
        _ => {
            params.require("agent")?;
            params.agent("agent")?.map(|key| key.as_str().to_string()).unwrap_or_default()
        }
    };
    let registration = params.uuid("registration")?;
    let id = params.get(resource.id_param()).map(str::to_string);
    let since = params.timestamp("since")?;
    if id.is_some() && since.is_some() {
        return Err(ApiError::bad_request(
            "since",
            format!("since lists documents; it cannot be combined with {}", resource.id_param()),
        ));
    }
    let scope =
        DocumentScope { store: principal.store, kind: resource.kind(), activity_id, agent, registration };
    Ok(Target { scope, id, since })
}

fn required_id(target: &Target, resource: Resource) -> Result<String, ApiError> {
    target.id.clone().ok_or_else(|| {
        let name = resource.id_param();
        ApiError::bad_request(name, format!("the {name} parameter is required"))
    })
}

/// `GET`/`HEAD`: one document (its bytes, Content-Type, ETag and Last-Modified), or the
/// ids of the context's documents as a JSON array.
pub async fn get<S: DocumentReader + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
    resource: Data<Resource>,
) -> Result<HttpResponse, ApiError> {
    let resource = **resource;
    let target = authorized_target(&req, store.get_ref(), &config, resource, resource.read_scopes()).await?;
    match target.id {
        Some(id) => {
            let document = store.document(target.scope, id).await?.ok_or(ApiError::NotFound)?;
            Ok(with_validators(HttpResponse::Ok(), &document)
                .content_type(document.content_type.as_str())
                .body(document.body))
        }
        None => {
            let ids = store.document_ids(target.scope, target.since).await?;
            Ok(HttpResponse::Ok().json(json!(ids)))
        }
    }
}

/// `PUT`: stores the body as the document, replacing any other.
pub async fn put<S: DocumentWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    body: Bytes,
    store: Data<S>,
    config: Data<AppConfig>,
    resource: Data<Resource>,
    version: XapiVersion,
) -> Result<HttpResponse, ApiError> {
    write(req, body, store, config, **resource, version, DocumentWriteMode::Replace).await
}

/// `POST`: merges a JSON object into the document (or stores it when there is none).
pub async fn post<S: DocumentWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    body: Bytes,
    store: Data<S>,
    config: Data<AppConfig>,
    resource: Data<Resource>,
    version: XapiVersion,
) -> Result<HttpResponse, ApiError> {
    write(req, body, store, config, **resource, version, DocumentWriteMode::Merge).await
}

async fn write<S: DocumentWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    body: Bytes,
    store: Data<S>,
    config: Data<AppConfig>,
    resource: Resource,
    XapiVersion(version): XapiVersion,
    mode: DocumentWriteMode,
) -> Result<HttpResponse, ApiError> {
    let target = authorized_target(&req, store.get_ref(), &config, resource, resource.write_scopes()).await?;
    let id = required_id(&target, resource)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let write = DocumentWrite {
        scope: target.scope,
        id,
        content_type,
        body: body.to_vec(),
        mode,
        preconditions: preconditions(req.headers())?,
        // Replacing a document needs a precondition: profiles since xAPI 1.0.3
        // (Communication §3.1), state documents too since 2.0.0.
        replace_needs_precondition: resource != Resource::State || version == Version::V2_0,
    };
    let document = store.write_document(write).await?;
    Ok(with_validators(HttpResponse::NoContent(), &document).finish())
}

/// `DELETE`: one document, or (State only, without `stateId`) every document of the
/// context.
pub async fn delete<S: DocumentWriter + CredentialReader + TenantReader + 'static>(
    req: HttpRequest,
    store: Data<S>,
    config: Data<AppConfig>,
    resource: Data<Resource>,
) -> Result<HttpResponse, ApiError> {
    let resource = **resource;
    let target = authorized_target(&req, store.get_ref(), &config, resource, resource.write_scopes()).await?;
    if target.since.is_some() {
        return Err(ApiError::bad_request("since", "since is not a parameter of DELETE"));
    }
    if target.id.is_none() && resource == Resource::State {
        store.delete_documents(target.scope).await?;
    } else {
        let id = required_id(&target, resource)?;
        store.delete_document(target.scope, id, preconditions(req.headers())?).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

fn with_validators(
    mut response: actix_web::HttpResponseBuilder,
    document: &Document,
) -> actix_web::HttpResponseBuilder {
    response
        .insert_header((header::ETAG, format!("\"{}\"", document.etag)))
        .insert_header((header::LAST_MODIFIED, document.updated.to_http_date()));
    response
}

/// `If-Match` / `If-None-Match` as lists of entity tags (quotes and weak markers dropped).
fn preconditions(headers: &HeaderMap) -> Result<Preconditions, ApiError> {
    let tags = |name: header::HeaderName| -> Result<Option<Vec<String>>, ApiError> {
        let Some(value) = headers.get(&name) else {
            return Ok(None);
        };
        let text =
            value.to_str().map_err(|_| ApiError::bad_request(name.as_str(), "must be ASCII entity tags"))?;
        let tags: Vec<String> = text
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if tags.is_empty() {
            return Err(ApiError::bad_request(name.as_str(), "must list entity tags or be *"));
        }
        Ok(Some(tags))
    };
    Ok(Preconditions { if_match: tags(header::IF_MATCH)?, if_none_match: tags(header::IF_NONE_MATCH)? })
}
