//! The HTTP face of the LRS. Handlers translate HTTP into calls on `xapi` (parse,
//! validate, format) and `store` (read, write); they hold no storage logic.

mod about;
mod activities;
mod admin;
mod agents;
mod alternate;
mod attachments;
mod auth;
pub mod cors;
pub mod credentials;
mod documents;
mod error;
mod health;
mod multipart;
mod params;
mod query;
mod statements;
mod version;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::web::{self, Data};
use actix_web::{App, HttpResponse, HttpServer};
use store::Store;

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
    /// 429 for the rest of the minute.
    pub auth_failures_per_minute: u32,
    /// HTTP worker threads.
    pub workers: usize,
    /// The version named in responses to requests that name none (or a bad one).
    pub default_version: xapi::Version,
    /// Origins whose web pages may call the xAPI (`https://lms.example.com`); empty allows
    /// every origin (see [`cors::policy`]).
    pub cors_allowed_origins: Vec<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            authority_home_page: "https://tally.invalid".into(),
            max_page_size: 100,
            max_body_bytes: 16 * 1024 * 1024,
            max_attachment_bytes: 256 * 1024 * 1024,
            auth_failures_per_minute: 20,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            default_version: xapi::Version::V2_0,
            cors_allowed_origins: Vec::new(),
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
    let workers = config.workers;
    // One brake for every worker, so the limit holds per process, not per thread.
    let failed_logins = Data::new(auth::FailedLogins::new(config.auth_failures_per_minute));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(failed_logins.clone())
            .wrap(ErrorHandlers::new().default_handler(error::json_framework_errors))
            .configure(|cfg| configure(cfg, store.clone(), config.clone()))
            .service(admin::service::<S>())
            .route("/health", web::get().to(health::health))
            .route("/ready", web::get().to(health::ready::<S>))
            .default_service(web::to(|| async { ApiError::NotFound.into_response() }))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

impl ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
