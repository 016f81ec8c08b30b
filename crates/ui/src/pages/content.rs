//! `GET /ui/content`: activities ranked by reach, completions or drop-off, each with a
//! sparkline of its statements per interval. The counts are `GET /insights/activities`'s
//! (same defaults: the 28 days up to today, by week); drop-off is `GET /insights/videos`'s.

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use insights::goal::date;
use insights::report::{ContentKind, Interval};
use insights::service::{self, ActivityCounts, VideoReport};
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use store::insights::ActivitySelection;
use store::{ActivityReader, RollupReader};

use super::{notice, store};
use crate::layout::{self, Section};
use crate::session::{self, INSIGHTS_READ, SignedIn};
use crate::{PageError, chart, format};

#[derive(Debug, Default, Deserialize)]
pub struct ContentQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    rank: String,
}

/// How the table is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rank {
    /// Most people first.
    Reach,
    /// Most completions first.
    Completions,
    /// Videos whose viewers leave most at one point first.
    DropOff,
}

impl Rank {
    const ALL: [(Rank, &'static str, &'static str); 3] = [
        (Rank::Reach, "reach", "reach (people)"),
        (Rank::Completions, "completions", "completions"),
        (Rank::DropOff, "drop-off", "drop-off (videos)"),
    ];

    fn parse(text: &str) -> Rank {
        Rank::ALL.iter().find(|(_, name, _)| *name == text).map_or(Rank::Reach, |r| r.0)
    }
}

/// An activity's name from its definition (`en`/`en-US` first), if it has one.
fn display_name(definition: Option<&serde_json::Map<String, Value>>) -> Option<String> {
    let names = definition?.get("name")?.as_object()?;
    ["en-US", "en", "en-GB"]
        .iter()
        .find_map(|tag| names.get(*tag))
        .or_else(|| names.values().next())
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Video => "video",
        ContentKind::Chatbot => "chatbot",
        ContentKind::Survey => "survey",
        ContentKind::Course => "course",
    }
}

fn parse_date(text: &str, name: &str) -> Result<Option<jiff::civil::Date>, String> {
    match text.trim() {
        "" => Ok(None),
        text => date::parse(text).map(Some).ok_or_else(|| format!("{name} must be a date (YYYY-MM-DD)")),
    }
}

pub async fn show<S: RollupReader + ActivityReader + SignedIn + 'static>(
    req: HttpRequest,
    query: web::Query<ContentQuery>,
) -> Result<HttpResponse, PageError> {
    let viewer = session::viewer::<S>(&req).await?;
    viewer.require(INSIGHTS_READ)?;
    let store = store::<S>(&req)?.get_ref();
    let rank = Rank::parse(&query.rank);
    let interval = if query.interval == "day" { Interval::Day } else { Interval::Week };
    let dates = parse_date(&query.to, "to").and_then(|to| Ok((parse_date(&query.from, "from")?, to)));
    let mut error = None;
    let mut rows: Vec<(ActivityCounts, Option<String>, Option<VideoReport>)> = Vec::new();
    let (mut from, mut to) = (String::new(), String::new());
    match dates {
        Err(message) => error = Some(message),
        Ok((from_date, to_date)) => {
            let to_date = to_date.unwrap_or_else(insights::days::today);
            let from_date = from_date.unwrap_or_else(|| to_date.saturating_sub(jiff::Span::new().days(27)));
            (from, to) = (from_date.to_string(), to_date.to_string());
            let selection =
                ActivitySelection { ids: Vec::new(), prefix: Some(query.prefix.trim().to_string()) };
            let counts =
                service::activity_counts(store, viewer.store, selection, from_date, to_date, interval)
                    .await?;
            let ids: Vec<String> = counts.iter().map(|c| c.activity_id.clone()).collect();
            let definitions = store.activity_definitions(viewer.store, ids).await?;
            for counts in counts {
                let video = match counts.kind {
                    ContentKind::Video => {
                        Some(service::video(store, viewer.store, &counts.activity_id).await?)
                    }
                    _ => None,
                };
                let name = display_name(definitions.get(&counts.activity_id));
                rows.push((counts, name, video));
            }
        }
    }
    match rank {
        Rank::Reach => {
            rows.sort_by(|a, b| b.0.actors.cmp(&a.0.actors).then(b.0.statements.cmp(&a.0.statements)))
        }
        Rank::Completions => {
            rows.sort_by(|a, b| b.0.completions.cmp(&a.0.completions).then(b.0.actors.cmp(&a.0.actors)))
        }
        Rank::DropOff => {
            let drop = |r: &(ActivityCounts, Option<String>, Option<VideoReport>)| {
                r.2.as_ref().map_or(-1.0, |v| v.largest_drop)
            };
            rows.sort_by(|a, b| drop(b).total_cmp(&drop(a)));
        }
    }
    let interval_name = if interval == Interval::Day { "day" } else { "week" };
    let body = html! {
        form.filters method="get" action="/ui/content" {
            div {
                label for="prefix" { "Activity ids starting with" }
                input #prefix type="text" name="prefix" value=(query.prefix) placeholder="https://academy.example.com/";
            }
            div { label for="from" { "From" } input #from type="date" name="from" value=(from); }
            div { label for="to" { "To" } input #to type="date" name="to" value=(to); }
            div {
                label for="interval" { "Interval" }
                select #interval name="interval" {
                    option value="week" selected[interval == Interval::Week] { "week" }
                    option value="day" selected[interval == Interval::Day] { "day" }
                }
            }
            div {
                label for="rank" { "Rank by" }
                select #rank name="rank" {
                    @for (r, value, words) in Rank::ALL {
                        option value=(value) selected[r == rank] { (words) }
                    }
                }
            }
            div { button type="submit" { "Show" } }
        }
        @if let Some(message) = &error {
            (notice("error", message))
        } @else if rows.is_empty() {
            p { "No statements about matching activities between " (from) " and " (to) "." }
        } @else {
            table #activities {
                caption { "Activities from " (from) " to " (to) ", ranked by " (Rank::ALL.iter().find(|r| r.0 == rank).map_or("", |r| r.2)) }
                thead { tr {
                    th.num scope="col" { "#" } th scope="col" { "Activity" } th scope="col" { "Kind" }
                    th.num scope="col" { "People" } th.num scope="col" { "Statements" } th.num scope="col" { "Completions" }
                    th.num scope="col" { "Largest drop" } th scope="col" { "Statements per " (interval_name) }
                } }
                tbody {
                    @for (i, (counts, name, video)) in rows.iter().enumerate() {
                        tr data-activity=(counts.activity_id) {
                            td.num { (i + 1) }
                            th scope="row" {
                                @if let Some(name) = name { (name) br; }
                                span.hint.wrap { (counts.activity_id) }
                            }
                            td { (kind_name(counts.kind)) }
                            td.num.people { (counts.actors) }
                            td.num.statements { (counts.statements) }
                            td.num.completions { (counts.completions) }
                            td.num.drop {
                                @match video.as_ref().and_then(|v| v.largest_drop_at.map(|at| (at, v.largest_drop))) {
                                    Some((at, drop)) => { (format::pct(drop)) " at " (format::pct(at)) }
                                    None => { "—" }
                                }
                            }
                            td {
                                @let values: Vec<f64> = counts.series.iter().map(|(_, n)| *n as f64).collect();
                                (chart::sparkline(&format!("statements per {interval_name}"), &values))
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(layout::page(Some(&viewer), Section::Content, "Content", body)))
}
