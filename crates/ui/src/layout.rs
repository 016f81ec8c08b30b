//! The page shell: document head, navigation, sign-out, and the headers every page gets.
//!
//! Pages carry a strict Content-Security-Policy (no scripts at all, styles only from
//! `/ui/style.css`), so even a value that escaped escaping could not run.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use maud::{DOCTYPE, Markup, html};

use crate::session::{self, Viewer};

/// The stylesheet, shipped inside the binary.
const STYLE: &str = include_str!("style.css");

/// Where the navigation points, and which entry is the current page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Goals,
    Content,
    Tickets,
    Statements,
    Credentials,
    Forwarding,
    Audit,
    Connectors,
    None,
}

impl Section {
    const ALL: [(Section, &'static str, &'static str, &'static [session::Scope]); 8] = [
        (Section::Goals, "Goals", "/ui/goals", session::INSIGHTS_READ),
        (Section::Content, "Content", "/ui/content", session::INSIGHTS_READ),
        (Section::Tickets, "Tickets", "/ui/tickets", session::INSIGHTS_READ),
        (Section::Statements, "Statements", "/ui/statements", session::STATEMENTS_READ),
        (Section::Credentials, "Credentials", "/ui/credentials", session::ADMIN),
        (Section::Forwarding, "Forwarding", "/ui/forwarding", session::ADMIN),
        (Section::Audit, "Audit log", "/ui/audit", session::ADMIN),
        (Section::Connectors, "Connectors", "/ui/connectors", session::ADMIN),
    ];

    /// The first section a credential with these scopes may open (where signing in leads).
    pub fn first_for(scopes: &[session::Scope]) -> &'static str {
        Section::ALL
            .iter()
            .find(|(_, _, _, wanted)| session::holds(scopes, wanted))
            .map_or("/ui/sign-in", |s| s.2)
    }
}

/// A whole page: `title` names it (in the tab and as its `h1`), `body` is the main content.
pub fn page(viewer: Option<&Viewer>, section: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tally" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    span.brand { "Tally" }
                    @if let Some(viewer) = viewer {
                        nav aria-label="Pages" {
                            ul {
                                @for (entry, label, href, scopes) in Section::ALL {
                                    @if viewer.can(scopes) {
                                        li {
                                            @if entry == section {
                                                a href=(href) aria-current="page" { (label) }
                                            } @else {
                                                a href=(href) { (label) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if viewer.stores.len() > 1 {
                            form.store method="post" action="/ui/store" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                label for="store-choice" { "Store" }
                                " "
                                select #store-choice name="store" {
                                    @for (store, name) in &viewer.stores {
                                        option value=(store) selected[*store == viewer.store] { (name) " (" (store) ")" }
                                    }
                                }
                                " "
                                button type="submit" { "Show" }
                            }
                        }
                        form.sign-out method="post" action="/ui/sign-out" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            span { "Signed in as " strong { (viewer.name) } " (" (viewer.key) ")" }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page that moves on to `location` (a path of this site) by itself, with a link for a
/// browser that does not. The navigation it starts is this site's own, which a redirect
/// in a chain another site began would not be.
pub fn moving_on(title: &str, location: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(format!("0; url={location}"));
                title { (title) " · Tally" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                main #main {
                    h1 { (title) }
                    p { a href=(location) { "Continue" } }
                }
            }
        }
    }
}

/// A short page saying what went wrong.
pub fn message_page(title: &str, message: &str) -> Markup {
    page(
        None,
        Section::None,
        title,
        html! {
            p { (message) }
            p { a href="/ui" { "Back to the pages" } }
        },
    )
}

/// `Cache-Control: no-store`: pages show tenant data (and once, a secret).
pub fn no_store() -> (header::HeaderName, HeaderValue) {
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// Finishes a response with a page and the headers every page carries.
pub fn respond(response: &mut HttpResponseBuilder, markup: Markup) -> HttpResponse {
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(no_store())
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .body(markup.into_string())
}

/// A 200 page.
pub fn ok(markup: Markup) -> HttpResponse {
    respond(&mut HttpResponse::Ok(), markup)
}

/// `GET /ui/style.css`.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .body(STYLE)
}
