//! `GET /ui/forwarding` (the `admin` scope): the forwarding rules of the stores the viewer
//! administers, with how far each has delivered, its last error and its dead letters (the
//! rules are managed through `/admin/stores/{id}/forwarding` and `tally forward`).

use actix_web::{HttpRequest, HttpResponse};
use maud::html;
use store::RollupReader;
use store::forwarding::ForwardingStore;

use super::store;
use crate::PageError;
use crate::layout::{self, Section};
use crate::session::{self, ADMIN, SignedIn};

pub async fn list<S: ForwardingStore + RollupReader + SignedIn + 'static>(
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(ADMIN)?;
    let store = store::<S>(&req)?.get_ref();
    let scope = if viewer.is_instance_admin() { None } else { Some(viewer.store) };
    let mut rows = Vec::new();
    for rule in store.forwarding_rules(scope).await? {
        let lag = store.ingest_head(rule.store).await?.since(rule.delivered);
        rows.push((rule, lag));
    }
    let body = html! {
        @if rows.is_empty() {
            p { "No forwarding rules. Add one with " code { "POST /admin/stores/{id}/forwarding" } " or " code { "tally forward add" } "." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Rule" } th scope="col" { "Store" } th scope="col" { "Target" }
                    th scope="col" { "Filter" } th scope="col" { "State" } th scope="col" { "Behind" }
                    th scope="col" { "Failures" } th scope="col" { "Last error" } th scope="col" { "Dead letters" }
                } }
                tbody {
                    @for (rule, lag) in &rows {
                        tr {
                            td { (rule.id) }
                            td { (rule.store) }
                            td { code { (rule.url) } }
                            td {
                                @if rule.filter.verbs.is_empty() && rule.filter.activity_prefix.is_none() { "every statement" }
                                @for verb in &rule.filter.verbs { code { (verb) } " " }
                                @if let Some(prefix) = &rule.filter.activity_prefix { "activities " code { (prefix) } "…" }
                            }
                            td { @if rule.enabled { "on" } @else { "off" } }
                            td { (lag) " statements" }
                            td { (rule.failures) }
                            td { (rule.last_error.as_deref().unwrap_or("—")) }
                            td { (rule.dead_letters) }
                        }
                    }
                }
            }
            p.hint { "Delivery is in ingest order, at least once; a batch is retried with backoff and, after its rule's attempts, set aside as dead letters: "
                code { "GET /admin/stores/{id}/forwarding/{rule}/dead-letters" } "." }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Forwarding, "Forwarding", body)))
}
