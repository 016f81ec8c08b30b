//! `GET /ui/goals`: every learning goal with its status and diagnosis in words.

use actix_web::{HttpRequest, HttpResponse};
use insights::report::Interval;
use insights::service::{self, ServiceError};
use maud::{Markup, html};
use store::InsightsReader;

use super::store;
use crate::layout::{self, Section};
use crate::session::{self, INSIGHTS_READ, SignedIn};
use crate::{PageError, format};

/// A goal's status in words, as a badge.
pub fn status_badge(status: &str) -> Markup {
    let words = match status {
        "met" => "Met",
        "on_track" => "On track",
        "at_risk" => "At risk",
        "missed" => "Missed",
        "insufficient_data" => "Insufficient data",
        other => other,
    };
    html! { span class={"status status-" (status)} data-status=(status) { (words) } }
}

/// The page of a goal.
pub fn goal_href(id: &str) -> String {
    format!("/ui/goals/{}", format::path_segment(id))
}

pub async fn list<S: InsightsReader + SignedIn + 'static>(
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(INSIGHTS_READ)?;
    let store = store::<S>(&req)?.get_ref();
    let mut rows = Vec::new();
    for goal in store.goals(viewer.store).await? {
        // The report as `GET /insights/goals/{id}/report` makes it by default.
        let report = match service::goal_report(store, viewer.store, &goal.id, None, Interval::Week).await {
            Err(ServiceError::Store(e)) => return Err(e.into()),
            other => other,
        };
        rows.push((goal.id, report));
    }
    let body = html! {
        @if rows.is_empty() {
            p { "No learning goals yet. Define one with " code { "PUT /insights/goals/{id}" } " (see the README)." }
        } @else {
            table #goals {
                caption { "Learning goals, as of today or their target date" }
                thead { tr {
                    th scope="col" { "Goal" } th scope="col" { "Status" } th scope="col" { "Finding" }
                    th scope="col" { "What to change" } th scope="col" class="num" { "Tickets change" }
                    th scope="col" class="num" { "Target" }
                } }
                tbody {
                    @for (id, report) in &rows {
                        tr data-goal=(id) {
                            @match report {
                                Ok((goal, report)) => {
                                    th scope="row" { a href=(goal_href(id)) { (goal.name) } br; span.hint { (id) } }
                                    td { (status_badge(report.status)) }
                                    td.diagnosis { (report.diagnosis.message) }
                                    td.action { (report.diagnosis.action) }
                                    td.num.change { (format::signed_pct(report.tickets.change_pct)) }
                                    td.num { "-" (goal.target.reduction_pct) "% by " (goal.target.by) }
                                }
                                Err(ServiceError::BadGoal(message)) => {
                                    th scope="row" { (id) }
                                    td colspan="5" { "This goal cannot be reported on: " (message) }
                                }
                                Err(e) => {
                                    th scope="row" { (id) }
                                    td colspan="5" { "The report could not be made: " (e) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Goals, "Learning goals", body)))
}
