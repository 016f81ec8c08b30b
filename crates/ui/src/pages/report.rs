//! `GET /ui/goals/{id}`: a goal's measure-and-update report, with charts (each with its
//! table), and `GET /ui/goals/{id}/report.csv`, the same CSV as `/exports/goals/{id}.csv`.

use actix_web::http::header;
use actix_web::web::{self, Path};
use actix_web::{HttpRequest, HttpResponse};
use insights::diagnosis::describe_effect;
use insights::estimate::IntervalMethod;
use insights::goal::{Goal, date};
use insights::report::{Interval, Report, Verdict};
use insights::service::{self, ServiceError};
use maud::{Markup, html};
use serde::Deserialize;
use store::InsightsReader;

use super::goals::{goal_href, status_badge};
use super::{notice, store};
use crate::chart::{self, Bar};
use crate::layout::{self, Section};
use crate::session::{self, INSIGHTS_READ, SignedIn, Viewer};
use crate::{PageError, format};

/// The report's options, as `GET /insights/goals/{id}/report` takes them.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    interval: String,
}

impl ReportQuery {
    fn parse(&self) -> Result<(Option<jiff::civil::Date>, Interval), String> {
        let as_of = match self.as_of.trim() {
            "" => None,
            text => Some(date::parse(text).ok_or("the date must be YYYY-MM-DD")?),
        };
        let interval = match self.interval.as_str() {
            "" => Interval::Week,
            text => Interval::parse(text).ok_or("the interval must be day or week")?,
        };
        Ok((as_of, interval))
    }

    fn query_string(&self) -> String {
        format::query(&[("as_of", self.as_of.trim()), ("interval", &self.interval)])
    }
}

async fn report_for<S: InsightsReader + SignedIn + 'static>(
    req: &HttpRequest,
    id: &str,
    options: Result<(Option<jiff::civil::Date>, Interval), String>,
) -> Result<(Viewer, Result<(Goal, Report), String>), PageError> {
    let viewer = session::viewer::<S>(req).await?;
    viewer.require(INSIGHTS_READ)?;
    let Ok((as_of, interval)) = options else {
        return Ok((viewer, Err(options.err().unwrap_or_default())));
    };
    let store = store::<S>(req)?.get_ref();
    match service::goal_report(store, viewer.store, id, as_of, interval).await {
        Ok(made) => Ok((viewer, Ok(made))),
        Err(ServiceError::NoGoal) => Err(PageError::NotFound),
        Err(ServiceError::BadGoal(message)) => {
            Ok((viewer, Err(format!("the stored goal is not valid: {message}"))))
        }
        Err(ServiceError::Store(e)) => Err(e.into()),
    }
}

pub async fn show<S: InsightsReader + SignedIn + 'static>(
    req: HttpRequest,
    id: Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let (viewer, made) = report_for::<S>(&req, &id, query.parse()).await?;
    let (title, body) = match made {
        Ok((goal, report)) => (format!("Goal: {}", goal.name), report_body(&id, &goal, &report, &query)),
        Err(message) => (
            format!("Goal {}", id.as_str()),
            html! { (notice("error", &message)) (options_form(&id, &query)) },
        ),
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Goals, &title, body)))
}

/// `GET /ui/goals/{id}/report.csv`: the goal's CSV for whoever is signed in.
pub async fn csv<S: InsightsReader + SignedIn + 'static>(
    req: HttpRequest,
    id: Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, made) = report_for::<S>(&req, &id, query.parse()).await?;
    let (_, report) = made.map_err(PageError::BadRequest)?;
    let name: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(layout::no_store())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
        .body(insights::export::goal_csv(&report)))
}

fn options_form(id: &str, query: &ReportQuery) -> Markup {
    html! {
        form.filters method="get" action=(goal_href(id)) {
            div {
                label for="as_of" { "As of " span.hint { "(YYYY-MM-DD; empty: today or the target date)" } }
                input #as_of type="date" name="as_of" value=(query.as_of);
            }
            div {
                label for="interval" { "Interval" }
                select #interval name="interval" {
                    option value="week" selected[query.interval != "day"] { "week" }
                    option value="day" selected[query.interval == "day"] { "day" }
                }
            }
            div { button type="submit" { "Show" } }
        }
    }
}

fn window_reason(reason: &str) -> &'static str {
    match reason {
        "last_complete_day" => "the last complete day",
        _ => "the end of the report's day",
    }
}

/// Why the window, and so its last period, ends before the end of the report's day.
fn cut_short_words(reason: &str) -> &'static str {
    match reason {
        "tickets_known_through" => "tickets are known only this far",
        _ => "today has not ended",
    }
}

fn verdict_words(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Effective => "The whole interval lies below the goal's minimum effect: the content works.",
        Verdict::NoEffect => {
            "The interval lies at or above the goal's minimum effect: the content does not do enough."
        }
        Verdict::Unclear => "The interval straddles the goal's minimum effect: not yet measurable.",
        Verdict::NotMeasurable => "Too few tickets since launch to measure the effect yet.",
    }
}

/// A figure: a term and its value, with an id to find it by.
fn figure(id: &str, term: &str, value: String) -> Markup {
    html! { div { dt { (term) } dd id=(id) { (value) } } }
}

fn report_body(id: &str, goal: &Goal, report: &Report, query: &ReportQuery) -> Markup {
    let interval_name = match report.interval {
        Interval::Day => "day",
        Interval::Week => "week",
    };
    let target_per_interval = match report.interval {
        Interval::Day => report.tickets.target_weekly / 7.0,
        Interval::Week => report.tickets.target_weekly,
    };
    let intervals: Vec<chart::Interval> = report
        .tickets
        .series
        .iter()
        .map(|p| chart::Interval { start: p.start.clone(), tickets: p.tickets, learners: p.learners })
        .collect();
    let csv_query = query.query_string();
    let effect = &report.effect;
    let drop_mark = report
        .consumption
        .video
        .as_ref()
        .and_then(|v| v.largest_drop.as_ref())
        .map(|d| chart::DropMark { from: d.from, to: d.to, lost: d.lost, place: d.place() });
    html! {
        section aria-labelledby="finding" {
            h2 #finding { "Status and finding" }
            p { (status_badge(report.status)) " as of " span #as-of { (report.as_of) } }
            p #known-through {
                @match &report.tickets.known_through {
                    Some(through) => { "Tickets known through " span #known-through-at { (through) } }
                    None => { "No tickets imported yet for this goal's sources." }
                }
                @if report.window.end_reason != "tickets_known_through" {
                    " · Counted up to " span #window-end { (report.window.end) } " (" (window_reason(report.window.end_reason)) ")."
                } @else {
                    ": the report counts up to there, so days whose tickets are not imported yet never read as a drop."
                }
            }
            div.notice {
                p #diagnosis-message { (report.diagnosis.message) }
                p { strong { "What to change: " } span #diagnosis-action { (report.diagnosis.action) } }
            }
            p.hint {
                "Goal: " (goal.target.reduction_pct) "% fewer matching tickets by " (goal.target.by)
                ", content launched " (goal.launch_date) ", baseline " (goal.baseline_days) " days."
            }
            (options_form(id, query))
            p {
                a href=(format::with_query(&format!("{}/report.csv", goal_href(id)), &csv_query)) { "Download this report as CSV" }
                " · For BI tools (Basic auth): "
                a href=(format::with_query(&format!("/exports/goals/{}.csv", format::path_segment(id)), &csv_query)) {
                    "/exports/goals/" (id) ".csv"
                }
            }
        }
        section aria-labelledby="numbers" {
            h2 #numbers { "Key numbers" }
            dl.figures {
                (figure("baseline-weekly", "Tickets per week before launch", format::rate(report.tickets.baseline_weekly)))
                (figure("current-weekly", "Tickets per week now (last 4 weeks)", format::rate(report.tickets.current_weekly)))
                (figure("change-pct", "Change", format::signed_pct(report.tickets.change_pct)))
                (figure("target-weekly", "Target per week", format::rate(report.tickets.target_weekly)))
                (figure("population-share", "People reached", format::pct(report.reach.population_share)))
                (figure("at-risk-share", "People at risk reached (filed before launch)", format::pct(report.reach.at_risk_share)))
                (figure("seen-before-share", "Requesters since launch who saw it first (a description: low when it works)", format::pct(report.reach.requesters_seen_before_share)))
                (figure("completion-rate", "Completion rate", format::pct(report.consumption.completion_rate)))
            }
        }
        section aria-labelledby="tickets-chart" {
            h2 #tickets-chart { "Tickets and people reached" }
            figure {
                (chart::tickets_and_learners("tickets", &intervals, &goal.launch_date.to_string(), target_per_interval, interval_name))
                figcaption { "Bars: matching tickets per " (interval_name) ". Line: people who had touched the content. Dashed: the launch and the target." }
            }
            table #series {
                caption { "Tickets and people reached per " (interval_name) }
                thead { tr {
                    th scope="col" { (interval_name) " from" } th.num scope="col" { "Tickets" }
                    th.num scope="col" { "New learners" } th.num scope="col" { "People reached (total)" }
                } }
                tbody {
                    @for point in &report.tickets.series {
                        tr.partial[point.partial] {
                            th scope="row" {
                                (point.start)
                                @if point.partial { " " span.hint { "(partial: " (format!("{:.1}", point.days)) " days known)" } }
                            }
                            td.num { (point.tickets) } td.num { (point.new_learners) } td.num { (point.learners) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="video-chart" {
            h2 #video-chart { "Video drop-off" }
            @if let Some(video) = &report.consumption.video {
                figure {
                    (chart::drop_off("video", &video.still_watching, drop_mark.as_ref()))
                    figcaption {
                        (video.viewers) " viewers. "
                        @if let (Some(drop), Some(mark)) = (&video.largest_drop, &drop_mark) {
                            "The largest drop: " span #largest-drop { (format::pct(drop.lost)) } " of viewers leave at "
                            span #largest-drop-at { (mark.place) } " of " span.wrap { (drop.activity_id) } "."
                        }
                    }
                }
                table #still-watching {
                    caption { "Share of viewers still watching" }
                    thead { tr { th scope="col" { "Position" } th.num scope="col" { "Still watching" } } }
                    tbody {
                        @for (i, share) in video.still_watching.iter().enumerate() {
                            tr { th scope="row" { (format::pct(i as f64 / 10.0)) } td.num { (format::pct(*share)) } }
                        }
                    }
                }
            } @else {
                p { "None of the goal's content is a video." }
            }
        }
        section aria-labelledby="effect-chart" {
            h2 #effect-chart { "Tickets of people reached and not reached" }
            figure {
                (chart::bars("effect", "Matching tickets per person-week", &[
                    Bar { label: "after seeing the content".into(), value: effect.exposed.rate, text: format::small_rate(effect.exposed.rate), class: "bar" },
                    Bar { label: "before or without seeing it".into(), value: effect.unexposed.rate, text: format::small_rate(effect.unexposed.rate), class: "bar-alt" },
                ]))
                figcaption {
                    span #effect-words { (describe_effect(effect)) } ". "
                    span #effect-verdict { (verdict_words(effect.verdict)) }
                }
            }
            table #effect {
                caption { "Ticket rates after launch, per person-week, of " (effect.people) " people: " (effect.population) }
                thead { tr {
                    th scope="col" { "People" } th.num scope="col" { "Tickets" }
                    th.num scope="col" { "Person-weeks" } th.num scope="col" { "Tickets per person-week" }
                } }
                tbody {
                    tr {
                        th scope="row" { "after seeing the content" } td.num #exposed-tickets { (effect.exposed.tickets) }
                        td.num { (format::rate(effect.exposed.person_weeks)) } td.num #seen-rate { (format::small_rate(effect.exposed.rate)) }
                    }
                    tr {
                        th scope="row" { "before or without seeing it" } td.num #unexposed-tickets { (effect.unexposed.tickets) }
                        td.num { (format::rate(effect.unexposed.person_weeks)) } td.num #unseen-rate { (format::small_rate(effect.unexposed.rate)) }
                    }
                }
            }
            table #rate-ratio {
                caption { "Rate ratio (after seeing it ÷ before or without)" }
                tbody {
                    tr { th scope="row" { "Rate ratio" } td.num #rate-ratio-value { (effect.rate_ratio.map_or("—".into(), |r| format!("{r:.2}"))) } }
                    tr { th scope="row" { "95% interval" } td.num #rate-ratio-ci {
                        @match effect.ci95 { Some([low, high]) => { (format!("{low:.2}–{high:.2}")) } None => { "—" } }
                    } }
                    tr { th scope="row" { "Interval" } td #rate-ratio-method {
                        @match effect.interval_method {
                            Some(IntervalMethod::ExactConditional) => { "exact conditional (few tickets)" }
                            Some(IntervalMethod::LogNormal) => { "log-normal, person-clustered" }
                            None => { "—" }
                        }
                    } }
                    @if effect.unattributed_tickets > 0 {
                        tr { th scope="row" { "Tickets without a known requester (in neither arm)" } td.num { (effect.unattributed_tickets) } }
                    }
                }
            }
        }
        section aria-labelledby="survey-chart" {
            h2 #survey-chart { "Survey" }
            @if report.feedback.responses > 0 {
                figure {
                    (chart::scale("survey", "Mean survey answer (scaled, -1 to 1)", report.feedback.mean, -1.0, 1.0, report.feedback.responses))
                    figcaption { "Survey answers, scaled from -1 (worst) to 1 (best)." }
                }
            } @else {
                p { "No survey answers yet." }
            }
            table #survey {
                caption { "Survey results" }
                tbody {
                    tr { th scope="row" { "Responses" } td.num #survey-responses { (report.feedback.responses) } }
                    tr { th scope="row" { "Mean (scaled, -1 to 1)" } td.num #survey-mean { (format::score(report.feedback.mean)) } }
                }
            }
            @if let Some(chatbot) = &report.consumption.chatbot {
                p { "Chatbot: " (chatbot.conversations) " conversations by " (chatbot.people) " people." }
            }
        }
        section aria-labelledby="periods-heading" {
            h2 #periods-heading { "Periods" }
            table #periods {
                caption { "Before launch, after launch, and after each change or new content revision" }
                thead { tr {
                    th scope="col" { "Period" } th scope="col" { "From" } th scope="col" { "To" }
                    th.num scope="col" { "Tickets per week" } th.num scope="col" { "New learners" } th.num scope="col" { "Completion rate" }
                } }
                tbody {
                    @for period in &report.periods {
                        tr.partial[period.partial] {
                            th scope="row" { (period.name) } td { (period.from) }
                            td { (period.to) @if period.partial { " " span.hint { "(partial: " (cut_short_words(report.window.end_reason)) ")" } } }
                            td.num { (format::rate(period.tickets_weekly)) } td.num { (period.new_learners) }
                            td.num { (format::pct_or_dash(period.completion_rate)) }
                        }
                    }
                }
            }
            @if !report.revisions.is_empty() {
                h3 { "New content revisions" }
                ul {
                    @for revision in &report.revisions {
                        li {
                            (revision.at) ": " span.wrap { (revision.activity_id) }
                            @if let Some(r) = &revision.revision { " (revision " (r) ")" }
                            @if revision.definition_changed { " — definition changed" }
                        }
                    }
                }
            }
        }
    }
}
