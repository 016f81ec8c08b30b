//! Signing in and out.
//!
//! Outcomes of the form go back to the form with a message (303, then GET), so a reload
//! never re-sends a secret and the browser's history holds no POST.

use actix_web::http::header;
use actix_web::web::{self, Data, Form};
use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;
use server::auth::authenticate_secret;
use server::{ApiError, AppConfig};
use store::CredentialReader;

use super::{notice, see_other, see_other_setting};
use crate::layout::{self, Section};
use crate::session::{self, SignInForm};
use crate::{PageError, format};

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    error: Option<String>,
}

fn message(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "wrong" => ("error", "The key or the secret is wrong, or the credential has been revoked."),
        "expired" => ("error", "The sign-in form had expired. Please sign in again."),
        "scope" => (
            "error",
            "This credential cannot use the web pages: it needs the insights, all, all/read or admin scope.",
        ),
        "signed-out" => ("notice", "You are signed out."),
        _ => return None,
    })
}

/// `GET /ui/sign-in`.
pub async fn form(req: HttpRequest, query: web::Query<SignInQuery>) -> Result<HttpResponse, PageError> {
    let (token, cookie) = session::sign_in_token(&req)?;
    let next = session::safe_next(query.next.as_deref());
    let body = html! {
        @if let Some((class, text)) = query.error.as_deref().and_then(message) {
            (notice(class, text))
        }
        p { "Sign in with an API credential (its key and secret) that has the "
            code { "insights" } ", " code { "all" } ", " code { "all/read" } " or " code { "admin" } " scope." }
        form method="post" action="/ui/sign-in" {
            input type="hidden" name="csrf" value=(token);
            @if let Some(next) = next {
                input type="hidden" name="next" value=(next);
            }
            label for="key" { "Key" }
            input #key type="text" name="key" autocomplete="username" required autofocus;
            label for="secret" { "Secret" }
            input #secret type="password" name="secret" autocomplete="current-password" required;
            p { button type="submit" { "Sign in" } }
        }
    };
    let mut response = HttpResponse::Ok();
    if let Some(cookie) = cookie {
        response.insert_header((header::SET_COOKIE, cookie));
    }
    Ok(layout::respond(&mut response, layout::page(None, Section::None, "Sign in", body)))
}

fn back_to_form(code: &str, next: Option<&str>) -> HttpResponse {
    let next = session::safe_next(next).unwrap_or_default();
    see_other(&format::with_query("/ui/sign-in", &format::query(&[("error", code), ("next", next)])))
}

/// `POST /ui/sign-in` (key, secret, csrf, next): the secret is checked as Basic auth is,
/// with the same brake on failed attempts.
pub async fn submit<S: CredentialReader + 'static>(
    req: HttpRequest,
    form: Form<SignInForm>,
    store: Data<S>,
    config: Data<AppConfig>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !session::sign_in_token_matches(&req, &form) {
        return Ok(back_to_form("expired", form.next.as_deref()));
    }
    let secret = Some((form.key.clone(), form.secret.clone()));
    let principal = match authenticate_secret(&req, store.get_ref(), &config, secret).await {
        Ok(principal) => principal,
        Err(ApiError::Unauthorized) => return Ok(back_to_form("wrong", form.next.as_deref())),
        Err(other) => return Err(other.into()),
    };
    if !session::holds(&principal.scopes, session::SIGN_IN) {
        return Ok(back_to_form("scope", form.next.as_deref()));
    }
    let cookie = session::start(&req, &form.key)?;
    let next = session::safe_next(form.next.as_deref()).unwrap_or(Section::first_for(&principal.scopes));
    Ok(see_other_setting(next, cookie))
}

/// Every field is optional so that a request without a session is told so (401) before
/// anything about its form.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/sign-out` (csrf).
pub async fn sign_out<S: CredentialReader + 'static>(
    req: HttpRequest,
    form: Form<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.check_csrf(&form.csrf)?;
    let cookie = session::end(&req);
    Ok(see_other_setting("/ui/sign-in?error=signed-out", cookie))
}
