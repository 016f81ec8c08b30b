//! The web pages under `/ui`: learning goals and their reports, content, tickets,
//! statements and credentials, rendered on the server as plain HTML with inline SVG charts.
//! No JavaScript: forms and links only, so the pages work with any browser and need no
//! build step.
//!
//! - [`session`]: signing in with a credential's key and secret (checked as the API checks
//!   Basic auth), the in-memory session behind an HttpOnly, SameSite=Strict cookie,
//!   and the CSRF token of every form that changes data.
//! - [`sso`]: signing in through OpenID providers, and the roles people's groups grant.
//! - [`layout`], [`chart`] and [`format`]: the page shell, the SVG charts (each with its
//!   table), and how numbers are written.
//! - [`pages`]: one module per page. Each reads through the same functions the JSON API
//!   uses (`insights::service`, the store traits), so the numbers are the API's.
//!
//! Every value that comes from a statement, a ticket or a credential is escaped by `maud`,
//! which escapes whatever it interpolates; nothing is written into a page unescaped.

pub mod chart;
mod error;
pub mod format;
pub mod layout;
mod pages;
pub mod session;
pub mod sso;

use actix_web::web::{self, Data};
use store::Store;

pub use error::PageError;
pub use session::Sessions;
pub use sso::SignInOptions;

/// Registers the pages under `/ui`. `sessions` is the process's session table and
/// `sign_in` how people sign in: make both once and pass the same ones to every worker, so
/// a session (or a sign-in on its way through a provider) holds whichever worker answers.
pub fn configure<S: Store>(cfg: &mut web::ServiceConfig, sessions: &Sessions, sign_in: &Data<SignInOptions>) {
    cfg.service(
        web::scope("/ui")
            .app_data(Data::new(sessions.clone()))
            .app_data(sign_in.clone())
            .route("", web::get().to(pages::home::<S>))
            .route("/", web::get().to(pages::home::<S>))
            .route("/style.css", web::get().to(layout::stylesheet))
            .route("/sign-in", web::get().to(pages::sign_in::form))
            .route("/sign-in", web::post().to(pages::sign_in::submit::<S>))
            .route("/sign-in/{provider}", web::get().to(pages::sign_in::start))
            .route("/sign-in/{provider}/callback", web::get().to(pages::sign_in::callback::<S>))
            .route("/sign-out", web::post().to(pages::sign_in::sign_out::<S>))
            .route("/store", web::post().to(pages::sign_in::switch_store::<S>))
            .route("/goals", web::get().to(pages::goals::list::<S>))
            .route("/goals/{id}", web::get().to(pages::report::show::<S>))
            .route("/goals/{id}/report.csv", web::get().to(pages::report::csv::<S>))
            .route("/content", web::get().to(pages::content::show::<S>))
            .route("/tickets", web::get().to(pages::tickets::show::<S>))
            .route("/tickets/preview", web::post().to(pages::tickets::preview::<S>))
            .route("/tickets/import", web::post().to(pages::tickets::import::<S>))
            .route("/statements", web::get().to(pages::statements::show::<S>))
            .route("/credentials", web::get().to(pages::credentials::list::<S>))
            .route("/credentials", web::post().to(pages::credentials::create::<S>))
            .route("/credentials/{key}/revoke", web::post().to(pages::credentials::revoke::<S>))
            .route("/forwarding", web::get().to(pages::forwarding::list::<S>))
            .route("/audit", web::get().to(pages::audit::list::<S>))
            .route("/connectors", web::get().to(pages::connectors::list::<S>))
            .default_service(web::to(|| async { Err::<actix_web::HttpResponse, _>(PageError::NotFound) })),
    );
}
