//! Gathers what reports and summaries need from the store and computes them.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;
use store::insights::{ActivitySelection, TicketCoverage, TicketFilter};
use store::{ActivityReader, InsightsReader, RollupReader, StoreError, StoreId, TicketReader};

use crate::days::{MICROS_PER_DAY, date_of, day_start, today};
use crate::dropoff::{self, LargestDrop, Viewing};
use crate::goal::Goal;
use crate::report::{ContentKind, Interval, Population, Report, ReportInput, Window, report};

/// Why a report or summary cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no such goal")]
    NoGoal,
    #[error("the stored goal is not valid any more: {0}")]
    BadGoal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The kind of each activity, from the definitions the LRS holds.
pub async fn kinds<S: ActivityReader>(
    store: &S,
    id: StoreId,
    activities: Vec<String>,
) -> Result<HashMap<String, ContentKind>, StoreError> {
    let definitions = store.activity_definitions(id, activities.clone()).await?;
    Ok(activities
        .into_iter()
        .map(|a| {
            let definition = definitions.get(&a);
            let field = |name: &str| definition.and_then(|d| d.get(name)).and_then(Value::as_str);
            let kind = ContentKind::of_type(field("type"), field("interactionType"));
            (a, kind)
        })
        .collect())
}

/// The earliest coverage end of the goal's ticket sources: the sources it names, or every
/// source the store has imported when it names none. `None` when none of them was imported.
pub fn known_through(goal: &Goal, coverage: &[TicketCoverage]) -> Option<i64> {
    coverage
        .iter()
        .filter(|c| goal.tickets.sources.is_empty() || goal.tickets.sources.contains(&c.source))
        .map(|c| c.through)
        .min()
}

/// A goal's report as of a day (default: the earlier of today and the target date). Its
/// window ends at the last complete day and where the goal's tickets are known through.
pub async fn goal_report<S: InsightsReader>(
    store: &S,
    id: StoreId,
    goal_id: &str,
    as_of: Option<Date>,
    interval: Interval,
) -> Result<(Goal, Report), ServiceError> {
    let row = store.goal(id, goal_id).await?.ok_or(ServiceError::NoGoal)?;
    let goal = Goal::parse(row.definition.as_bytes()).map_err(|e| ServiceError::BadGoal(e.to_string()))?;
    let today = today();
    let as_of = as_of.unwrap_or_else(|| today.min(goal.target.by));
    let known_through = known_through(&goal, &store.coverage(id).await?);
    let window = Window::of(&goal, as_of, today, known_through);
    let (baseline_start, end) = (window.baseline_start_micros, window.end_micros);
    let filter = TicketFilter {
        from: Some(baseline_start),
        to: Some(end),
        sources: goal.tickets.sources.clone(),
        categories: goal.tickets.categories.clone(),
        products: goal.tickets.products.clone(),
    };
    let tickets: Vec<_> =
        store.tickets(id, filter).await?.into_iter().filter(|t| goal.tickets.matches(t)).collect();
    let actors = store.known_actors(id, end).await?;
    let requesters = store.ticket_requesters(id, end).await?;
    let selection = goal.content.selection();
    let rows = store.activity_actors(id, selection.clone()).await?;
    let (from_day, to_day) = (baseline_start.div_euclid(MICROS_PER_DAY), end.div_euclid(MICROS_PER_DAY) + 1);
    let daily = store.daily(id, selection.clone(), from_day, to_day).await?;
    let mut activities: Vec<String> = rows.iter().map(|r| r.activity_id.clone()).collect();
    activities.extend(daily.iter().map(|r| r.activity_id.clone()));
    activities.sort();
    activities.dedup();
    let kinds = kinds(store, id, activities).await?;
    // Per-actor daily rows only count chatbot conversations: read just the chatbots'.
    let chatbots: Vec<String> =
        kinds.iter().filter(|(_, k)| **k == ContentKind::Chatbot).map(|(a, _)| a.clone()).collect();
    let daily_actors = if chatbots.is_empty() {
        Vec::new()
    } else {
        let chatbots = ActivitySelection { ids: chatbots, prefix: None };
        store.daily_actors(id, chatbots, from_day, to_day).await?
    };
    let changes = store.changes(id, goal_id).await?;
    let revisions = store.revisions(id, goal.content.selection()).await?;
    let input = ReportInput {
        goal: &goal,
        as_of,
        window,
        interval,
        tickets: &tickets,
        known_through,
        population: Population { actors: &actors, requesters: &requesters },
        rows: &rows,
        daily: &daily,
        daily_actors: &daily_actors,
        kinds: &kinds,
        changes: &changes,
        revisions: &revisions,
    };
    let report = report(&input);
    Ok((goal, report))
}

/// Per-activity counts over a period, by interval (`GET /insights/activities`).
#[derive(Clone, Debug, Serialize)]
pub struct ActivityCounts {
    pub activity_id: String,
    pub kind: ContentKind,
    pub statements: i64,
    pub completions: i64,
    pub actors: u64,
    pub series: Vec<(String, i64)>,
}

pub async fn activity_counts<S: RollupReader + ActivityReader>(
    store: &S,
    id: StoreId,
    selection: ActivitySelection,
    from: Date,
    to: Date,
    interval: Interval,
) -> Result<Vec<ActivityCounts>, StoreError> {
    let (from_day, to_day) = (day_start(from) / MICROS_PER_DAY, day_start(to) / MICROS_PER_DAY + 1);
    let daily = store.daily(id, selection.clone(), from_day, to_day).await?;
    let actors = store.daily_actors(id, selection, from_day, to_day).await?;
    let step = if interval == Interval::Week { 7 } else { 1 };
    let mut by_activity: BTreeMap<String, (i64, i64, BTreeMap<i64, i64>)> = BTreeMap::new();
    for row in &daily {
        let entry = by_activity.entry(row.activity_id.clone()).or_default();
        entry.0 += row.statements;
        entry.1 += row.completions;
        *entry.2.entry(from_day + (row.day - from_day) / step * step).or_default() += row.statements;
    }
    let mut distinct: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
    for a in &actors {
        distinct.entry(a.activity_id.as_str()).or_default().insert(a.actor.as_str());
    }
    let kinds = kinds(store, id, by_activity.keys().cloned().collect()).await?;
    Ok(by_activity
        .into_iter()
        .map(|(activity, (statements, completions, series))| ActivityCounts {
            kind: kinds.get(&activity).copied().unwrap_or(ContentKind::Course),
            actors: distinct.get(activity.as_str()).map_or(0, |s| s.len() as u64),
            series: series.into_iter().map(|(day, n)| (date_of_day(day), n)).collect(),
            activity_id: activity,
            statements,
            completions,
        })
        .collect())
}

/// A video's viewing (`GET /insights/videos?activityId=`).
#[derive(Clone, Debug, Serialize)]
pub struct VideoReport {
    pub activity_id: String,
    pub viewers: u64,
    pub completions: u64,
    /// Share of viewers who reached each tenth (0, 0.1, … 1).
    pub still_watching: Vec<f64>,
    /// The tenth after which the most viewers left, and the share that left there.
    pub largest_drop_at: Option<f64>,
    pub largest_drop: f64,
    /// The largest drop located from the played segments to 1% of the video (and in
    /// seconds when its length is known), as the goal report gives it.
    pub drop: Option<LargestDrop>,
}

pub async fn video<S: RollupReader>(
    store: &S,
    id: StoreId,
    activity: &str,
) -> Result<VideoReport, StoreError> {
    let rows = store
        .activity_actors(id, ActivitySelection { ids: vec![activity.to_string()], prefix: None })
        .await?;
    let viewers = rows.len();
    let still_watching: Vec<f64> = (0..=10)
        .map(|k| {
            let reached = rows.iter().filter(|r| r.best_progress + 0.005 >= k as f64 / 10.0).count();
            if viewers == 0 { 0.0 } else { reached as f64 / viewers as f64 }
        })
        .collect();
    let (largest_drop_at, largest_drop) = (0..10)
        .map(|k| (k as f64 / 10.0, still_watching[k] - still_watching[k + 1]))
        .fold((None, 0.0), |(at, drop), (here, d)| if d > drop { (Some(here), d) } else { (at, drop) });
    let viewings: Vec<Viewing<'_>> = rows
        .iter()
        .map(|r| Viewing { segments: &r.segments, length: r.length, best_progress: r.best_progress })
        .collect();
    Ok(VideoReport {
        activity_id: activity.to_string(),
        viewers: viewers as u64,
        completions: rows.iter().filter(|r| r.completions > 0).count() as u64,
        still_watching,
        largest_drop_at,
        largest_drop,
        drop: dropoff::of_video(activity, &viewings),
    })
}

/// How tickets group in a summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Category,
    Product,
    Tag,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "category" => Some(GroupBy::Category),
            "product" => Some(GroupBy::Product),
            "tag" => Some(GroupBy::Tag),
            _ => None,
        }
    }
}

/// Bucketing of ticket summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        match text {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            _ => None,
        }
    }

    fn start(self, date: Date) -> Date {
        match self {
            Bucket::Day => date,
            // ISO weeks start on Monday.
            Bucket::Week => date
                .checked_sub(jiff::Span::new().days(date.weekday().to_monday_zero_offset() as i64))
                .unwrap_or(date),
            Bucket::Month => date.first_of_month(),
        }
    }
}

/// Ticket counts per group and bucket (`GET /insights/tickets/summary`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TicketGroup {
    pub group: String,
    pub total: u64,
    pub series: Vec<(String, u64)>,
}

pub async fn ticket_summary<S: TicketReader>(
    store: &S,
    id: StoreId,
    group_by: GroupBy,
    bucket: Bucket,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Vec<TicketGroup>, StoreError> {
    let filter = TicketFilter {
        from: from.map(day_start),
        to: to.map(|d| day_start(d) + MICROS_PER_DAY),
        ..TicketFilter::default()
    };
    let mut groups: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ticket in store.tickets(id, filter).await? {
        let date = date_of(ticket.created);
        let key = bucket.start(date).to_string();
        let names: Vec<String> = match group_by {
            GroupBy::Category => vec![ticket.category.clone()],
            GroupBy::Product => vec![ticket.product.clone()],
            GroupBy::Tag if ticket.tags.is_empty() => vec![String::new()],
            GroupBy::Tag => ticket.tags.clone(),
        };
        for name in names {
            *groups.entry(name).or_default().entry(key.clone()).or_default() += 1;
        }
    }
    Ok(groups
        .into_iter()
        .map(|(group, series)| TicketGroup {
            total: series.values().sum(),
            series: series.into_iter().collect(),
            group,
        })
        .collect())
}

fn date_of_day(day: i64) -> String {
    date_of(day * MICROS_PER_DAY).to_string()
}
