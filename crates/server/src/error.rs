//! One error type for every handler, mapped to an HTTP status in one place.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use store::StoreError;
use xapi::ValidationError;

/// What a request can fail with. The body is always
/// `{"error": {"status": <code>, "message": "...", "path": "..."}}` (path when known).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request breaks a rule: names the property or parameter (`path`) and the rule.
    #[error("{message}")]
    BadRequest { path: Option<String>, message: String },
    #[error("authentication required")]
    Unauthorized,
    /// A bearer token that does not verify (401 naming the reason, never the token).
    #[error("bearer token refused: {0}")]
    BearerRefused(crate::oidc::TokenError),
    /// The bearer tokens' issuer cannot be reached for its keys (503, retry later).
    #[error("the identity provider's keys cannot be fetched; try again shortly")]
    IdentityProviderUnavailable(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body stalled past the idle timeout (408; the connection is closed).
    #[error("{0}")]
    RequestTimeout(String),
    /// The request's headers are larger than the limit (431).
    #[error("{0}")]
    HeadersTooLarge(String),
    /// Too many failed authentications from this address; retry after this many seconds.
    #[error("too many failed authentications from this address; try again later")]
    TooManyRequests(u64),
    /// The server lacks configuration this request needs (503, without `Retry-After`:
    /// retrying does not help until the operator sets it).
    #[error("{0}")]
    NotConfigured(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        ApiError::BadRequest { path: (!path.is_empty()).then_some(path), message: message.into() }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::bad_request(e.path.clone(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::PreconditionFailed(message) => ApiError::PreconditionFailed(message),
            StoreError::Invalid { path, message } => {
                ApiError::bad_request(path.clone(), format!("{path}: {message}"))
            }
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
            StoreError::Backend(detail) => ApiError::Internal(detail),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BearerRefused(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_)
            | ApiError::NotConfigured(_)
            | ApiError::IdentityProviderUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            ApiError::IdentityProviderUnavailable(detail) => {
                tracing::warn!(%detail, "identity provider unavailable")
            }
            _ => {}
        }
        let mut error = json!({ "status": status.as_u16(), "message": self.to_string() });
        if let ApiError::BadRequest { path: Some(path), .. } = self {
            error["path"] = json!(path);
        }
        if let ApiError::BearerRefused(reason) = self {
            error["reason"] = json!(reason.code());
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::Unauthorized => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Tally\""),
                ));
            }
            // RFC 6750 §3: the scheme, `invalid_token` and why (the message holds no token).
            ApiError::BearerRefused(reason) => {
                let challenge = format!(
                    "Bearer realm=\"Tally\", error=\"invalid_token\", error_description=\"{reason}\""
                );
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            ApiError::Unavailable(_) | ApiError::IdentityProviderUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            ApiError::TooManyRequests(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        response.json(json!({ "error": error }))
    }
}

/// Gives errors raised by the framework itself (a body over the size limit, a method the
/// resource does not have) the same JSON shape as the LRS's own. Error pages that the web
/// pages render themselves (HTML) are left as they are.
pub fn json_framework_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_own = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_own {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let (req, original) = response.into_parts();
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.append_header((name.clone(), value.clone()));
        }
    }
    let message = status.canonical_reason().unwrap_or("error");
    let response = rebuilt.json(json!({ "error": { "status": status.as_u16(), "message": message } }));
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response).map_into_right_body()))
}
