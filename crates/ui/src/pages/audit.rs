//! `GET /ui/audit[?store=ID]` (the `admin` scope): the newest administrative acts of the
//! stores the viewer administers, as `GET /admin/audit` answers them (which pages further
//! back, and filters by action, actor and time).

use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use store::{AuditFilter, AuditReader, StoreId};

use super::store;
use crate::PageError;
use crate::layout::{self, Section};
use crate::session::{self, ADMIN, SignedIn};

/// Acts the page shows.
const SHOWN: usize = 200;

pub async fn list<S: AuditReader + SignedIn + 'static>(req: HttpRequest) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    let asked = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "store")
        .and_then(|(_, value)| value.parse::<StoreId>().ok());
    // A store's admin sees its own store, whatever it asks for.
    let scope = if viewer.is_instance_admin() { asked } else { Some(viewer.store) };
    let filter = AuditFilter { store: scope, ..AuditFilter::default() };
    let page = store::<S>(&req)?.get_ref().audit_page(filter, None, SHOWN).await?;
    let body = html! {
        @if page.entries.is_empty() {
            p { "No administrative acts recorded yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Store" } th scope="col" { "Who" }
                    th scope="col" { "Act" } th scope="col" { "On" } th scope="col" { "Details" }
                } }
                tbody {
                    @for entry in &page.entries {
                        tr {
                            td { (entry.at.to_rfc3339()) }
                            td { (entry.store) }
                            td { code { (entry.actor) } }
                            td { (entry.action) }
                            td { code { (entry.subject) } }
                            td { code { (entry.details) } }
                        }
                    }
                }
            }
            @if page.next.is_some() {
                p.hint { "The newest " (SHOWN) " acts; " code { "GET /admin/audit" } " pages further back and filters by action, actor and time." }
            }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Audit, "Audit log", body)))
}
