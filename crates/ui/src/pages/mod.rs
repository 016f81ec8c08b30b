//! One module per page. A handler: find the viewer (signed in, with the scope the page
//! needs), read through the same functions the JSON API uses, render.

pub mod audit;
pub mod connectors;
pub mod content;
pub mod credentials;
pub mod forwarding;
pub mod goals;
pub mod report;
pub mod sign_in;
pub mod statements;
pub mod tickets;

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use maud::{Markup, html};

use crate::layout::{self, Section};
use crate::session::SignedIn;
use crate::{PageError, session};

/// `GET /ui`: the first page the viewer may open.
pub async fn home<S: SignedIn + 'static>(req: HttpRequest) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    Ok(see_other(Section::first_for(&viewer.scopes)))
}

/// 303 to `location` (after a form, so a reload does not send it again).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(layout::no_store())
        .finish()
}

/// 303 to `location`, setting a cookie.
pub fn see_other_setting(location: &str, cookie: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(layout::no_store())
        .insert_header((header::SET_COOKIE, cookie))
        .finish()
}

/// The store the server registered.
pub fn store<S: 'static>(req: &HttpRequest) -> Result<&Data<S>, PageError> {
    session::app_data::<S>(req)
}

/// A paragraph saying something went right (`notice`) or wrong (`error`), announced to
/// screen readers.
pub fn notice(class: &str, message: &str) -> Markup {
    html! { p class=(class) role=(if class == "error" { "alert" } else { "status" }) { (message) } }
}
