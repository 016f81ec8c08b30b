//! The HTTP face of the LRS. Handlers translate HTTP into calls on `xapi` (parse,
//! validate, format), `store` (read, write) and `insights` (the `/insights` API and the CSV
//! exports, [`insights_api`]); they hold no storage logic.

mod about;
mod activities;
mod admin;
mod agents;
mod alternate;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod bearer;
pub mod bulk;
pub mod client_addr;
pub mod cors;
pub mod credentials;
mod documents;
mod error;
pub mod forwarding;
pub mod forwarding_secret;
pub mod fuzzing;
mod health;
pub mod insights_api;
mod limits;
pub mod lookups;
pub mod multipart;
pub mod observability;
pub mod oidc;
pub mod params;
pub mod query;
pub mod retention;
pub mod scopes;
mod statements;
mod version;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::web::{self, Data};
use actix_web::{App, HttpResponse, HttpServer};
use store::{Health, ReadStore, Store};

pub use error::ApiError;

/// What the HTTP layer needs to know; the CLI builds it from flags and environment.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// `account.homePage` of the `authority` given to statements (the credential's key is
    /// the account name).
    pub authority_home_page: String,
    /// The most statements one page of a query returns (also what `limit=0` means).
    pub max_page_size: usize,
    /// The largest request body accepted, in bytes (413 above it); for multipart
    /// statement requests, the largest statements part.
    pub max_body_bytes: usize,
    /// The largest attachment accepted, in bytes (413 above it).
    pub max_attachment_bytes: u64,
    /// Failed authentications per client address and minute before that address gets
    /// 429 for the rest of the minute; 0 turns the brake off.
    pub auth_failures_per_minute: u32,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client address
    /// (for the failed-login brake); empty: the TCP peer is the client.
    pub trusted_proxies: client_addr::TrustedProxies,
    /// The most statements one statement request may carry (413 above it).
    pub max_batch_statements: usize,
    /// The deepest nesting of arrays and objects accepted in statement JSON (400 above).
    pub max_json_depth: usize,
    /// The most bytes a request's headers may take together (431 above it).
    pub max_header_bytes: usize,
    /// How long a client may take to send the request line and headers (408, closed).
    pub header_timeout: std::time::Duration,
    /// How long a request body may stall without a byte arriving (408, closed).
    pub body_idle_timeout: std::time::Duration,
    /// On SIGTERM/SIGINT, how long requests in flight get to finish before the process
    /// exits anyway.
    pub shutdown_timeout: std::time::Duration,
    /// HTTP worker threads.
    pub workers: usize,
    /// The version named in responses to requests that name none (or a bad one).
    pub default_version: xapi::Version,
    /// Origins whose web pages may call the xAPI (`https://lms.example.com`); empty allows
    /// every origin (see [`cors::policy`]).
    pub cors_allowed_origins: Vec<String>,
    /// Whether `DELETE /admin/agents` may erase a person (off unless the operator turns it
    /// on: an erasure cannot be undone).
    pub allow_erasure: bool,
    /// The key helpdesk connectors' credentials are sealed with (`TALLY_SECRET_KEY`);
    /// without one, no connector can be created or run.
    pub connector_key: Option<insights::connectors::SecretKey>,
    /// Bearer access tokens from an OpenID issuer, accepted beside Basic auth when set;
    /// shared by every worker, so the issuer's keys are fetched once per process.
    pub bearer_tokens: Option<std::sync::Arc<bearer::BearerTokens>>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            authority_home_page: "https://tally.invalid".into(),
            max_page_size: 100,
            max_body_bytes: 16 * 1024 * 1024,
            max_attachment_bytes: 256 * 1024 * 1024,
            auth_failures_per_minute: 20,
            trusted_proxies: client_addr::TrustedProxies::default(),
            max_batch_statements: 1_000,
            max_json_depth: 64,
            max_header_bytes: 32 * 1024,
            header_timeout: std::time::Duration::from_secs(5),
            body_idle_timeout: std::time::Duration::from_secs(30),
            shutdown_timeout: std::time::Duration::from_secs(30),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            default_version: xapi::Version::V2_0,
            cors_allowed_origins: Vec::new(),
            allow_erasure: false,
            connector_key: None,
            bearer_tokens: None,
        }
    }
}

/// Registers the xAPI resources under `/xapi`.
pub fn configure<S: Store>(cfg: &mut web::ServiceConfig, store: S, config: AppConfig) {
    let payload = web::PayloadConfig::new(config.max_body_bytes);
    let cors = cors::policy(&config.cors_allowed_origins);
    cfg.app_data(Data::new(store)).app_data(Data::new(config)).app_data(payload).service(
        // The last `wrap` runs first: CORS (it answers preflights itself), then the
        // alternate request syntax (its form may carry the version), then the version.
        web::scope("/xapi")
            .wrap(from_fn(version::negotiate))
            .wrap(from_fn(alternate::translate))
            .wrap(cors)
            .route("/about", web::get().to(about::about))
            .route("/about", web::head().to(about::about))
            .service(
                web::resource("/statements")
                    .route(web::put().to(statements::put::<S>))
                    .route(web::post().to(statements::post::<S>))
                    .route(web::get().to(statements::get::<S>))
                    .route(web::head().to(statements::get::<S>)),
            )
            .service(documents::service::<S>("/activities/state", documents::Resource::State))
            .service(documents::service::<S>("/activities/profile", documents::Resource::ActivityProfile))
            .service(documents::service::<S>("/agents/profile", documents::Resource::AgentProfile))
            .route("/activities", web::get().to(activities::get::<S>))
            .route("/activities", web::head().to(activities::get::<S>))
            .route("/agents", web::get().to(agents::get::<S>))
            .route("/agents", web::head().to(agents::get::<S>))
            .default_service(web::to(|| async { ApiError::NotFound.into_response() })),
    );
}

/// Starts the HTTP server on an already bound listener.
pub fn serve<S: Store>(store: S, config: AppConfig, listener: TcpListener) -> std::io::Result<Server> {
    serve_with(store, config, listener, |_| {})
}

/// Starts an HTTP server with only the given resources (and health, readiness and the
/// same error handling and authentication brake as the LRS), e.g. insights on its own.
/// It holds only a [`ReadStore`]: a read-only replica's server has no write path.
pub fn serve_only<S: ReadStore>(
    store: S,
    config: AppConfig,
    listener: TcpListener,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<Server> {
    let (store, shared) = (Data::new(store), Data::new(config.clone()));
    start::<S>(config, listener, move |cfg| {
        cfg.app_data(store.clone()).app_data(shared.clone());
        routes(cfg);
    })
}

/// Starts the HTTP server with more resources beside the LRS's own (such as insights),
/// registered by `extra` on every worker.
pub fn serve_with<S: Store>(
    store: S,
    config: AppConfig,
    listener: TcpListener,
    extra: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<Server> {
    let shared = config.clone();
    start::<S>(config, listener, move |cfg| {
        configure(cfg, store.clone(), shared.clone());
        extra(cfg);
        cfg.service(admin::service::<S>());
    })
}

/// Runs `routes` on every worker, behind the middleware every Tally server has, beside
/// `/health` and `/ready`.
fn start<S: Health + 'static>(
    config: AppConfig,
    listener: TcpListener,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<Server> {
    // One brake for every worker, so the limit holds per process, not per thread.
    let failed_logins = Data::new(auth::FailedLogins::new(config.auth_failures_per_minute));
    let credential_lookups = Data::new(lookups::CredentialLookups::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(failed_logins.clone())
            .app_data(credential_lookups.clone())
            .wrap(ErrorHandlers::new().default_handler(error::json_framework_errors))
            .wrap(from_fn(limits::guard))
            .wrap(from_fn(observability::observe))
            .configure(routes.clone())
            .route("/health", web::get().to(health::health))
            .route("/ready", web::get().to(health::ready::<S>))
            .default_service(web::to(|| async { ApiError::NotFound.into_response() }))
    })
    .workers(config.workers)
    // Slow clients cannot hold a worker: the head must arrive in time (bodies are
    // bounded by `limits::guard`); on SIGTERM requests in flight finish first.
    .client_request_timeout(config.header_timeout)
    .shutdown_timeout(config.shutdown_timeout.as_secs())
    .listen(listener)?
    .run();
    Ok(server)
}

impl ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
