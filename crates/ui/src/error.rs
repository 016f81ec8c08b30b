//! What a page can fail with, mapped to a status and an HTML page in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use server::ApiError;
use store::StoreError;

use crate::layout;

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session, or it ended (signed out, expired, credential revoked). A page asked for
    /// with GET sends the browser to the sign-in page (`next`: where to come back to);
    /// anything else is 401.
    #[error("sign in to see this page")]
    SignIn { next: Option<String> },
    /// Signed in, but the credential lacks the scope the page needs.
    #[error("{0}")]
    Forbidden(String),
    /// A form that changes data came without this session's token (another site's form,
    /// or a page from before signing in again).
    #[error("the form is out of date or came from another site; load the page again and resend it")]
    Csrf,
    #[error("there is no such page")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// The API's own errors (the store is unavailable, too many failed sign-ins, …).
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Api(e.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { next: Some(_) } => StatusCode::SEE_OTHER,
            PageError::SignIn { next: None } => StatusCode::UNAUTHORIZED,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let PageError::SignIn { next: Some(next) } = self {
            let location = format!("/ui/sign-in?next={}", crate::format::query_value(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header(layout::no_store())
                .finish();
        }
        let mut response = HttpResponse::build(status);
        match self {
            // The cause goes to the log; the page shows only the short message.
            PageError::Api(ApiError::Internal(detail)) => tracing::error!(%detail, "page failed"),
            PageError::Api(ApiError::Unavailable(detail)) => {
                tracing::warn!(%detail, "database unavailable");
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            PageError::Api(ApiError::TooManyRequests(seconds)) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        let title = status.canonical_reason().unwrap_or("Error");
        layout::respond(&mut response, layout::message_page(title, &self.to_string()))
    }
}
