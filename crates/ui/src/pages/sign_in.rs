//! Signing in and out: with a credential's key and secret, or through an OpenID provider
//! (the authorization code flow, [`server::oidc::RelyingParty`]).
//!
//! Outcomes of the form go back to the form with a message (303, then GET), so a reload
//! never re-sends a secret and the browser's history holds no POST.
//!
//! A provider's sign-in leaves from `GET /ui/sign-in/{provider}` and comes back to
//! `GET /ui/sign-in/{provider}/callback`. The page that ends it is a 200 that moves on by
//! itself: the session cookie is `SameSite=Strict`, and a browser does not send such a
//! cookie on a redirect that a chain from the provider's site led to.

use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Data, Form};
use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;
use server::auth::authenticate_secret;
use server::oidc::{Identity, SignInError};
use server::{ApiError, AppConfig};
use store::{StoreId, TenantReader};

use super::{notice, see_other, see_other_setting};
use crate::layout::{self, Section};
use crate::session::{self, Person, SignInForm, SignedIn, Who};
use crate::sso::{Provider, SignInOptions};
use crate::{PageError, format};

/// Holds a provider sign-in's `state` between leaving and coming back. `SameSite=Lax`: the
/// provider's redirect back is a top-level navigation from its site, which carries Lax
/// cookies and not Strict ones.
const STATE_COOKIE: &str = "tally_oidc_state";
const STATE_COOKIE_PATH: &str = "/ui/sign-in";

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
            "This credential cannot use the web pages: it needs the insights, insights/read, all, all/read \
             or admin scope.",
        ),
        "signed-out" => ("notice", "You are signed out."),
        "keys-off" => (
            "error",
            "Signing in with a key and secret is turned off here: sign in with your identity provider.",
        ),
        _ => return None,
    })
}

/// `GET /ui/sign-in`: the providers, and the key-and-secret form unless it is turned off.
pub async fn form(
    req: HttpRequest,
    query: web::Query<SignInQuery>,
    options: Data<SignInOptions>,
) -> Result<HttpResponse, PageError> {
    let (token, cookie) = session::sign_in_token(&req)?;
    let next = session::safe_next(query.next.as_deref());
    let body = html! {
        @if let Some((class, text)) = query.error.as_deref().and_then(message) {
            (notice(class, text))
        }
        @if !options.providers.is_empty() {
            ul.providers {
                @for provider in &options.providers {
                    li { a.button href=(provider_start(provider, next)) { "Sign in with " (provider.label) } }
                }
            }
        }
        @if options.key_sign_in {
            p { "Sign in with an API credential (its key and secret) that has the "
                code { "insights" } ", " code { "insights/read" } ", " code { "all" } ", "
                code { "all/read" } " or " code { "admin" } " scope." }
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
pub async fn submit<S: SignedIn + 'static>(
    req: HttpRequest,
    form: Form<SignInForm>,
    store: Data<S>,
    config: Data<AppConfig>,
    options: Data<SignInOptions>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !options.key_sign_in {
        return Ok(back_to_form("keys-off", form.next.as_deref()));
    }
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
    let cookie = session::start(&req, Who::Credential(form.key.clone()))?;
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

/// `POST /ui/sign-out` (csrf): ends the Tally session (not the one at the provider).
pub async fn sign_out<S: SignedIn + 'static>(
    req: HttpRequest,
    form: Form<SignOutForm>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.check_csrf(&form.csrf)?;
    let cookie = session::end(&req);
    Ok(see_other_setting("/ui/sign-in?error=signed-out", cookie))
}

/// Where a provider's button leads: its sign-in, with the page to come back to.
fn provider_start(provider: &Provider, next: Option<&str>) -> String {
    let path = format!("/ui/sign-in/{}", format::path_segment(&provider.id));
    match next {
        Some(next) => format::with_query(&path, &format::query(&[("next", next)])),
        None => path,
    }
}

/// Where the provider sends the browser back to: what is registered with the provider as
/// the client's redirect URI.
fn callback_url(req: &HttpRequest, options: &SignInOptions, provider: &Provider) -> String {
    let root = options.public_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    format!("{root}/ui/sign-in/{}/callback", format::path_segment(&provider.id))
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /ui/sign-in/{provider}`: sends the browser to the provider with a new
/// authorization request, whose `state`, `nonce` and verifier stay here.
pub async fn start(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StartQuery>,
    options: Data<SignInOptions>,
) -> Result<HttpResponse, PageError> {
    let provider = options.provider(&path).ok_or(PageError::NotFound)?;
    let redirect_uri = callback_url(&req, &options, provider);
    let authorization = match provider.party.authorization(&redirect_uri).await {
        Ok(authorization) => authorization,
        Err(unavailable) => return Ok(unreachable(provider, &unavailable.to_string(), None)),
    };
    let next = session::safe_next(query.next.as_deref()).map(str::to_owned);
    options.pending().keep(
        &authorization.state,
        &provider.id,
        authorization.nonce,
        authorization.verifier,
        next,
    );
    let cookie = session::set_cookie_same_site(
        &req,
        STATE_COOKIE,
        &authorization.state,
        STATE_COOKIE_PATH,
        Some(600),
        "Lax",
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, authorization.url))
        .insert_header(layout::no_store())
        .insert_header((header::SET_COOKIE, cookie))
        .finish())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /ui/sign-in/{provider}/callback`: finishes a sign-in this browser started, once
/// the ID token passes every check; refuses it, saying why, otherwise.
pub async fn callback<S: TenantReader + 'static>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
    options: Data<SignInOptions>,
    store: Data<S>,
) -> Result<HttpResponse, PageError> {
    let provider = options.provider(&path).ok_or(PageError::NotFound)?;
    let clear = session::set_cookie_same_site(&req, STATE_COOKIE, "", STATE_COOKIE_PATH, Some(0), "Lax");
    let state = query.state.as_deref().unwrap_or_default();
    let this_browser = !state.is_empty()
        && session::cookie(&req, STATE_COOKIE).is_some_and(|cookie| session::same_token(cookie, state));
    let pending = this_browser.then(|| options.pending().take(state)).flatten();
    let Some(pending) = pending.filter(|pending| pending.provider == provider.id) else {
        let why = "This sign-in was not started in this browser, or it took longer than ten minutes.";
        return Ok(refusal(StatusCode::BAD_REQUEST, provider, why, clear));
    };
    if let Some(error) = &query.error {
        let said = match &query.error_description {
            Some(description) => format!("{} refused the sign-in: {error} ({description}).", provider.label),
            None => format!("{} refused the sign-in: {error}.", provider.label),
        };
        return Ok(refusal(StatusCode::UNAUTHORIZED, provider, &said, clear));
    }
    let Some(code) = query.code.as_deref().filter(|code| !code.is_empty()) else {
        let why = format!("{} sent the browser back without a code.", provider.label);
        return Ok(refusal(StatusCode::BAD_REQUEST, provider, &why, clear));
    };
    let redirect_uri = callback_url(&req, &options, provider);
    let identity = match provider.party.redeem(code, &pending.verifier, &pending.nonce, &redirect_uri).await {
        Ok(identity) => identity,
        Err(SignInError::Unavailable(unavailable)) => {
            return Ok(unreachable(provider, &unavailable.to_string(), Some(clear)));
        }
        Err(refused) => {
            tracing::info!(provider = %provider.id, reason = %refused, "a sign-in was refused");
            let why = format!("The sign-in was refused: {refused}.");
            return Ok(refusal(StatusCode::UNAUTHORIZED, provider, &why, clear));
        }
    };
    let mut grants = Vec::new();
    for mut grant in provider.grants(&identity.groups) {
        if let Some(info) = store.store_info(grant.store).await?.filter(|info| !info.revoked) {
            grant.store_name = info.name;
            grants.push(grant);
        }
    }
    let Some(first) = grants.first() else {
        let why = format!(
            "{} says you are {}, but none of your groups gives you a role in Tally. Ask the people \
             who run Tally to map one of your groups to a role.",
            provider.label,
            shown_name(&identity)
        );
        return Ok(refusal(StatusCode::FORBIDDEN, provider, &why, clear));
    };
    let next = pending.next.clone().unwrap_or_else(|| Section::first_for(&first.scopes).to_owned());
    let person = Person {
        actor: format!("oidc:{}:{}", provider.id, actor_name(&identity)),
        name: shown_name(&identity).to_owned(),
        store: first.store,
        grants,
    };
    tracing::info!(provider = %provider.id, "a person signed in");
    let cookie = session::start(&req, Who::Person(person))?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::SET_COOKIE, cookie)).append_header((header::SET_COOKIE, clear));
    Ok(layout::respond(&mut response, layout::moving_on("Signed in", &next)))
}

/// What the audit log calls a person: their email, else their user name, else the
/// provider's subject.
fn actor_name(identity: &Identity) -> &str {
    identity.email.as_deref().or(identity.username.as_deref()).unwrap_or(&identity.subject)
}

/// What the pages call a person.
fn shown_name(identity: &Identity) -> &str {
    identity.name.as_deref().unwrap_or_else(|| actor_name(identity))
}

/// 503: the provider could not be asked (trying again later may work).
fn unreachable(provider: &Provider, detail: &str, clear: Option<String>) -> HttpResponse {
    tracing::warn!(provider = %provider.id, error = %detail, "the identity provider cannot be reached");
    let why = format!("{} cannot be reached just now: {detail}.", provider.label);
    let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, provider, &why, clear.unwrap_or_default());
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    response
}

/// A sign-in through `provider` that did not finish, and a way to try again. `clear`
/// clears the state cookie (empty: nothing to clear).
fn refusal(status: StatusCode, provider: &Provider, why: &str, clear: String) -> HttpResponse {
    let body = html! {
        p.error role="alert" { (why) }
        p { a href=(provider_start(provider, None)) { "Sign in with " (provider.label) " again" } }
        p { a href="/ui/sign-in" { "Other ways to sign in" } }
    };
    let mut response = HttpResponse::build(status);
    if !clear.is_empty() {
        response.insert_header((header::SET_COOKIE, clear));
    }
    layout::respond(&mut response, layout::page(None, Section::None, "Sign-in refused", body))
}

#[derive(Debug, Deserialize)]
pub struct StoreForm {
    #[serde(default)]
    csrf: String,
    store: StoreId,
}

/// `POST /ui/store` (csrf, store): a person whose groups give them roles in several stores
/// looks at another.
pub async fn switch_store<S: SignedIn + 'static>(
    req: HttpRequest,
    form: Form<StoreForm>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.check_csrf(&form.csrf)?;
    if !session::sessions(&req)?.switch_store(&viewer, form.store) {
        return Err(PageError::Forbidden(format!("None of your roles is in store {}.", form.store)));
    }
    Ok(see_other("/ui"))
}
