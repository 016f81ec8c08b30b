//! `GET /ui/connectors` (the `admin` scope): the helpdesk connectors of the stores the
//! viewer administers, with when each last ran and runs next, how it went and what its
//! tickets are known through (they are managed through `/admin/stores/{id}/connectors`).
//! The credentials are never on the page: the page never opens them.

use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use store::ConnectorReader;
use xapi::Timestamp;

use super::store;
use crate::PageError;
use crate::layout::{self, Section};
use crate::session::{self, ADMIN, SignedIn};

pub async fn list<S: ConnectorReader + SignedIn + 'static>(
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    let store = store::<S>(&req)?.get_ref();
    let scope = if viewer.is_instance_admin() { None } else { Some(viewer.store) };
    let connectors = store.connectors(scope).await?;
    let instant = |t: Timestamp| t.to_rfc3339();
    let body = html! {
        @if connectors.is_empty() {
            p { "No helpdesk connectors. Add one with " code { "POST /admin/stores/{id}/connectors" } "." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Connector" } th scope="col" { "Store" } th scope="col" { "Helpdesk" }
                    th scope="col" { "Every" } th scope="col" { "Last run" } th scope="col" { "Next run" }
                    th scope="col" { "Tickets fetched" } th scope="col" { "Known through" } th scope="col" { "Last error" }
                } }
                tbody {
                    @for connector in &connectors {
                        tr {
                            td { (connector.id) }
                            td { (connector.store) }
                            td { (connector.kind) " " code { (connector.base_url) }
                                @if !connector.filter.is_empty() { " · " code { (connector.filter) } } }
                            td { (insights::connectors::every_text(connector.every_seconds)) }
                            td { (connector.last_run.map_or("never".to_string(), instant)) }
                            td { (instant(connector.next_run)) }
                            td { (connector.tickets_fetched) }
                            td { (connector.known_through.map_or("—".to_string(), |t| instant(Timestamp::from_micros(t)))) }
                            td { (connector.last_error.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
            p.hint { "Each run fetches what changed since the last one; run one now with "
                code { "POST /admin/stores/{id}/connectors/{connector}/run" } "." }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Connectors, "Connectors", body)))
}
