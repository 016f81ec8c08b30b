//! The measure-and-update report of a goal: did the content reach people, how was it
//! consumed, did tickets move, and if the goal is not being met, what to change.
//! Pure: the caller gathers tickets and rollups from the store (see `service.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::civil::Date;
use serde::Serialize;
use store::insights::{ActivityActorRow, ChangeRow, DailyActorRow, DailyRow, RevisionRow, TicketRow};

use crate::goal::Goal;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What an activity is, from its definition's type (see [`ContentKind::of_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    Video,
    Chatbot,
    Survey,
    Course,
}

impl ContentKind {
    /// Classifies an activity by its definition's `type` IRI (and interaction type): video
    /// (the Video Profile's type, or any type naming video), chatbot (types naming chatbot,
    /// conversation or chat), survey (types naming survey or questionnaire, or a likert
    /// interaction), anything else a course.
    pub fn of_type(activity_type: Option<&str>, interaction_type: Option<&str>) -> ContentKind {
        let t = activity_type.unwrap_or_default().to_ascii_lowercase();
        if t.contains("video") {
            ContentKind::Video
        } else if t.contains("chatbot") || t.contains("conversation") || t.contains("/chat") {
            ContentKind::Chatbot
        } else if t.contains("survey") || t.contains("questionnaire") || interaction_type == Some("likert") {
            ContentKind::Survey
        } else {
            ContentKind::Course
        }
    }
}

/// How the ticket series is bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
}

impl Interval {
    pub fn parse(text: &str) -> Option<Interval> {
        match text {
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            _ => None,
        }
    }

    fn days(self) -> i64 {
        match self {
            Interval::Day => 1,
            Interval::Week => 7,
        }
    }
}

/// What the report is computed from.
pub struct ReportInput<'a> {
    pub goal: &'a Goal,
    pub as_of: Date,
    pub interval: Interval,
    /// Tickets the goal is about, created from the baseline's start through `as_of`.
    pub tickets: &'a [TicketRow],
    /// Activity × actor rollups of the goal's content.
    pub rows: &'a [ActivityActorRow],
    /// Daily rollups of the goal's content.
    pub daily: &'a [DailyRow],
    /// Per-actor daily rows of the goal's chatbots (conversations are counted from them).
    pub daily_actors: &'a [DailyActorRow],
    /// The kind of each content activity.
    pub kinds: &'a HashMap<String, ContentKind>,
    pub changes: &'a [ChangeRow],
    /// Revision markers of the content, as the engine saw them in the statements.
    pub revisions: &'a [RevisionRow],
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub as_of: String,
    pub interval: Interval,
    /// met, on_track, at_risk, missed or insufficient_data.
    pub status: &'static str,
    pub diagnosis: Diagnosis,
    pub tickets: Tickets,
    pub reach: Reach,
    pub consumption: Consumption,
    pub feedback: Feedback,
    pub effect: Effect,
    /// New revisions of the content, recognised from the statements.
    pub revisions: Vec<ContentRevision>,
    pub periods: Vec<Period>,
}

/// A new revision of one of the goal's activities, seen in the statements: a new
/// `context.revision` value, or a definition that differs from the one first seen.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContentRevision {
    pub activity_id: String,
    /// The day it was first seen (UTC).
    pub at: String,
    /// The new `context.revision`, when the revision was recognised from it.
    pub revision: Option<String>,
    /// Whether the activity's definition changed.
    pub definition_changed: bool,
    #[serde(skip)]
    pub at_micros: i64,
}

impl ContentRevision {
    fn describe(&self) -> String {
        match &self.revision {
            Some(r) => format!("revision {r} of {}", self.activity_id),
            None => format!("a new definition of {}", self.activity_id),
        }
    }
}

/// Every marker of an activity first seen after the activity's earliest marker of the same
/// kind is a new revision; a revision and a definition first seen together are one.
pub fn content_revisions(rows: &[RevisionRow]) -> Vec<ContentRevision> {
    let mut earliest: HashMap<(&str, &str), i64> = HashMap::new();
    for row in rows {
        let kind = row.marker.split_once(':').map_or("", |(k, _)| k);
        let seen = earliest.entry((row.activity_id.as_str(), kind)).or_insert(row.first_seen);
        *seen = (*seen).min(row.first_seen);
    }
    let mut found: BTreeMap<(&str, i64), ContentRevision> = BTreeMap::new();
    for row in rows {
        let (kind, value) = row.marker.split_once(':').unwrap_or(("", ""));
        if earliest.get(&(row.activity_id.as_str(), kind)) == Some(&row.first_seen) {
            continue;
        }
        let revision =
            found.entry((row.activity_id.as_str(), row.first_seen)).or_insert_with(|| ContentRevision {
                activity_id: row.activity_id.clone(),
                at: date_of(row.first_seen),
                revision: None,
                definition_changed: false,
                at_micros: row.first_seen,
            });
        match kind {
            "revision" => revision.revision = Some(value.to_string()),
            _ => revision.definition_changed = true,
        }
    }
    found.into_values().collect()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// working, low_reach, drop_off, no_effect or insufficient_data.
    pub code: &'static str,
    /// The finding, in words.
    pub message: String,
    /// What to change: promotion or placement, the content, or nothing yet.
    pub action: String,
    pub evidence: BTreeMap<&'static str, f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tickets {
    pub baseline_weekly: f64,
    pub current_weekly: f64,
    /// Change of the current weekly rate against the baseline, in percent (negative: fewer).
    pub change_pct: Option<f64>,
    pub target_weekly: f64,
    pub baseline_tickets: u64,
    pub current_tickets: u64,
    pub series: Vec<SeriesPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub start: String,
    pub tickets: u64,
    /// People who first touched the content in this interval.
    pub new_learners: u64,
    /// People who had touched it by the interval's end.
    pub learners: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reach {
    /// Ticket requesters and learners together.
    pub population: u64,
    pub learners: u64,
    pub population_share: f64,
    pub requesters_after_launch: u64,
    /// Of those, how many had touched the content before their ticket.
    pub requesters_seen_before: u64,
    pub requesters_seen_before_share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Consumption {
    /// People who touched the content.
    pub starts: u64,
    /// People who completed some of it.
    pub completions: u64,
    pub completion_rate: f64,
    pub video: Option<VideoConsumption>,
    pub chatbot: Option<ChatbotUse>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VideoConsumption {
    pub viewers: u64,
    /// Share of viewers who got at least to 0.0, 0.1, …, 1.0 of the video.
    pub still_watching: Vec<f64>,
    /// Where the largest share of viewers leaves, as a fraction of the length: the last
    /// tenth they reached.
    pub largest_drop_at: Option<f64>,
    /// That share.
    pub largest_drop: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChatbotUse {
    /// Distinct person-days with the chatbot.
    pub conversations: u64,
    pub people: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feedback {
    pub responses: u64,
    /// Mean scaled score of the survey answers (-1..=1), when any.
    pub mean: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Effect {
    /// Matching tickets per requester-week after requesters first touched the content
    /// (after launch).
    pub seen_ticket_rate: Option<f64>,
    /// The same for the time before people touched it, or for people who never did.
    pub unseen_ticket_rate: Option<f64>,
    /// (seen - unseen) / unseen: negative when people who saw the content file fewer.
    pub relative_difference: Option<f64>,
    pub seen_person_weeks: f64,
    pub unseen_person_weeks: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Period {
    pub name: String,
    pub from: String,
    pub to: String,
    pub tickets_weekly: f64,
    pub new_learners: u64,
    /// Completion rate of the people who started in the period.
    pub completion_rate: Option<f64>,
}

/// A person: ticket requesters and learners, joined on their lowercase agent keys.
struct People {
    /// Agent key (lowercase) → person index.
    by_key: HashMap<String, usize>,
    count: usize,
}

impl People {
    fn person(&mut self, keys: &[String]) -> usize {
        if let Some(&p) = keys.iter().find_map(|k| self.by_key.get(k)) {
            for k in keys {
                self.by_key.insert(k.clone(), p);
            }
            return p;
        }
        let p = self.count;
        self.count += 1;
        for k in keys {
            self.by_key.insert(k.clone(), p);
        }
        p
    }
}

fn day_start(date: Date) -> i64 {
    date.to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_microsecond())
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn weekly(count: u64, from: i64, to: i64) -> f64 {
    let weeks = (to - from) as f64 / (7.0 * MICROS_PER_DAY as f64);
    if weeks <= 0.0 { 0.0 } else { count as f64 / weeks }
}

/// Computes a goal's report.
pub fn report(input: &ReportInput<'_>) -> Report {
    let goal = input.goal;
    let launch = day_start(goal.launch_date);
    let end = day_start(input.as_of) + MICROS_PER_DAY;
    let baseline_start = launch - goal.baseline_days as i64 * MICROS_PER_DAY;

    // People: learners from the rollups, requesters from the tickets, joined on keys.
    let mut people = People { by_key: HashMap::new(), count: 0 };
    let mut first_seen: HashMap<usize, i64> = HashMap::new();
    let mut completed: HashSet<usize> = HashSet::new();
    let mut per_person_kind: HashMap<(usize, ContentKind), f64> = HashMap::new();
    for row in input.rows.iter().filter(|r| r.first_seen < end) {
        let p = people.person(&[row.actor.to_lowercase()]);
        let seen = first_seen.entry(p).or_insert(row.first_seen);
        *seen = (*seen).min(row.first_seen);
        if row.completions > 0 {
            completed.insert(p);
        }
        let kind = input.kinds.get(&row.activity_id).copied().unwrap_or(ContentKind::Course);
        let best = per_person_kind.entry((p, kind)).or_insert(0.0);
        *best = best.max(row.best_progress);
    }
    let tickets: Vec<(usize, &TicketRow)> = input
        .tickets
        .iter()
        .filter(|t| t.created >= baseline_start && t.created < end)
        .map(|t| {
            let keys: Vec<String> = t.requester_keys.iter().map(|k| k.to_lowercase()).collect();
            let keys =
                if keys.is_empty() { vec![format!("ticket:{}:{}", t.source, t.external_id)] } else { keys };
            (people.person(&keys), t)
        })
        .collect();
    let learners = first_seen.len() as u64;
    let population = people.count as u64;

    // Tickets: baseline and current weekly rates, and the series.
    let baseline_tickets = tickets.iter().filter(|(_, t)| t.created < launch).count() as u64;
    let baseline_weekly = weekly(baseline_tickets, baseline_start, launch);
    let current_start = launch.max(end - 28 * MICROS_PER_DAY);
    let current_tickets = tickets.iter().filter(|(_, t)| t.created >= current_start).count() as u64;
    let current_weekly = weekly(current_tickets, current_start, end);
    let change_pct =
        (baseline_weekly > 0.0).then(|| (current_weekly - baseline_weekly) / baseline_weekly * 100.0);
    let target_weekly = baseline_weekly * (1.0 - goal.target.reduction_pct / 100.0);
    let step = input.interval.days() * MICROS_PER_DAY;
    let mut series = Vec::new();
    let mut start = baseline_start;
    while start < end {
        let stop = start + step;
        let in_interval = |t: i64| t >= start && t < stop;
        series.push(SeriesPoint {
            start: date_of(start),
            tickets: tickets.iter().filter(|(_, t)| in_interval(t.created)).count() as u64,
            new_learners: first_seen.values().filter(|s| in_interval(**s)).count() as u64,
            learners: first_seen.values().filter(|s| **s < stop).count() as u64,
        });
        start = stop;
    }

    // Reach.
    let mut after_launch: BTreeMap<usize, i64> = BTreeMap::new();
    for (p, t) in tickets.iter().filter(|(_, t)| t.created >= launch) {
        let first = after_launch.entry(*p).or_insert(t.created);
        *first = (*first).min(t.created);
    }
    let seen_before =
        after_launch.iter().filter(|(p, ticket_at)| first_seen.get(p).is_some_and(|s| s < ticket_at)).count()
            as u64;
    let reach = Reach {
        population,
        learners,
        population_share: share(learners, population),
        requesters_after_launch: after_launch.len() as u64,
        requesters_seen_before: seen_before,
        requesters_seen_before_share: share(seen_before, after_launch.len() as u64),
    };

    // Consumption.
    let completions = completed.len() as u64;
    let video = video_consumption(&per_person_kind);
    let chatbot = chatbot_use(input);
    let consumption = Consumption {
        starts: learners,
        completions,
        completion_rate: share(completions, learners),
        video,
        chatbot,
    };
    let feedback = survey(input);

    // Effect: ticket rates per person-week after launch, split at the moment each person
    // first saw the content. Only ticket requesters count: people who never filed a ticket
    // are known only if they saw the content, so counting them would make viewers look
    // better than they are.
    let requesters: HashSet<usize> = tickets.iter().map(|(p, _)| *p).collect();
    let (mut seen_tickets, mut unseen_tickets) = (0u64, 0u64);
    for (p, t) in tickets.iter().filter(|(_, t)| t.created >= launch) {
        match first_seen.get(p) {
            Some(s) if *s < t.created => seen_tickets += 1,
            _ => unseen_tickets += 1,
        }
    }
    // Summed in whole microseconds: exact, so the report is the same whatever order the
    // set yields its people in (every process, and a read replica, answers the same JSON).
    let (mut seen_micros, mut unseen_micros) = (0i128, 0i128);
    for p in requesters {
        let switch = first_seen.get(&p).map_or(end, |s| (*s).clamp(launch, end));
        unseen_micros += i128::from(switch - launch);
        seen_micros += i128::from(end - switch);
    }
    let week = 7.0 * MICROS_PER_DAY as f64;
    let (seen_weeks, unseen_weeks) = (seen_micros as f64 / week, unseen_micros as f64 / week);
    let rate = |n: u64, weeks: f64| (weeks > 0.0).then(|| n as f64 / weeks);
    let (seen_rate, unseen_rate) = (rate(seen_tickets, seen_weeks), rate(unseen_tickets, unseen_weeks));
    let relative_difference = match (seen_rate, unseen_rate) {
        (Some(s), Some(u)) if u > 0.0 => Some((s - u) / u),
        _ => None,
    };
    let effect = Effect {
        seen_ticket_rate: seen_rate,
        unseen_ticket_rate: unseen_rate,
        relative_difference,
        seen_person_weeks: seen_weeks,
        unseen_person_weeks: unseen_weeks,
    };

    let days_since_launch = (end - launch) / MICROS_PER_DAY;
    let diagnosis =
        diagnose(goal, &reach, &consumption, &effect, change_pct, baseline_tickets, days_since_launch);
    let status = status(goal, input.as_of, &diagnosis, current_weekly, target_weekly, change_pct);
    let revisions = content_revisions(input.revisions);
    let starts = period_starts(input, &revisions, baseline_start, launch, end);
    let periods = periods(&starts, end, &tickets, &first_seen, &completed);
    Report {
        as_of: input.as_of.to_string(),
        interval: input.interval,
        status,
        diagnosis,
        tickets: Tickets {
            baseline_weekly,
            current_weekly,
            change_pct,
            target_weekly,
            baseline_tickets,
            current_tickets,
            series,
        },
        reach,
        consumption,
        feedback,
        effect,
        revisions,
        periods,
    }
}

fn date_of(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

fn video_consumption(per_person_kind: &HashMap<(usize, ContentKind), f64>) -> Option<VideoConsumption> {
    let progress: Vec<f64> = per_person_kind
        .iter()
        .filter(|((_, kind), _)| *kind == ContentKind::Video)
        .map(|(_, p)| *p)
        .collect();
    if progress.is_empty() {
        return None;
    }
    let viewers = progress.len();
    // A viewer reached tenth k when their furthest progress is at least k/10 (with a
    // little tolerance for players that report 0.399 for 40%).
    let still_watching: Vec<f64> = (0..=10)
        .map(|k| progress.iter().filter(|p| **p + 0.005 >= k as f64 / 10.0).count() as f64 / viewers as f64)
        .collect();
    let (largest_drop_at, largest_drop) = (0..10)
        .map(|k| (k as f64 / 10.0, still_watching[k] - still_watching[k + 1]))
        .fold((None, 0.0), |(at, drop), (here, d)| if d > drop { (Some(here), d) } else { (at, drop) });
    Some(VideoConsumption { viewers: viewers as u64, still_watching, largest_drop_at, largest_drop })
}

fn chatbot_use(input: &ReportInput<'_>) -> Option<ChatbotUse> {
    let chats: Vec<&DailyActorRow> = input
        .daily_actors
        .iter()
        .filter(|r| input.kinds.get(&r.activity_id) == Some(&ContentKind::Chatbot))
        .collect();
    if chats.is_empty() {
        return None;
    }
    let conversations: HashSet<(i64, &str)> = chats.iter().map(|r| (r.day, r.actor.as_str())).collect();
    let people: HashSet<&str> = chats.iter().map(|r| r.actor.as_str()).collect();
    Some(ChatbotUse { conversations: conversations.len() as u64, people: people.len() as u64 })
}

fn survey(input: &ReportInput<'_>) -> Feedback {
    let answers: Vec<&DailyRow> = input
        .daily
        .iter()
        .filter(|r| input.kinds.get(&r.activity_id) == Some(&ContentKind::Survey))
        .collect();
    let responses = answers.iter().map(|r| r.statements.max(0) as u64).sum();
    let (sum, count) = answers.iter().fold((0.0, 0), |(s, c), r| (s + r.scaled_sum, c + r.scaled_count));
    Feedback { responses, mean: (count > 0).then(|| sum / count as f64) }
}

fn diagnose(
    goal: &Goal,
    reach: &Reach,
    consumption: &Consumption,
    effect: &Effect,
    change_pct: Option<f64>,
    baseline_tickets: u64,
    days_since_launch: i64,
) -> Diagnosis {
    let t = &goal.thresholds;
    let mut evidence = BTreeMap::new();
    evidence.insert("population_share", reach.population_share);
    evidence.insert("requesters_seen_before_share", reach.requesters_seen_before_share);
    evidence.insert("completion_rate", consumption.completion_rate);
    if let Some(change) = change_pct {
        evidence.insert("ticket_change_pct", change);
    }
    if let Some(difference) = effect.relative_difference {
        evidence.insert("seen_vs_unseen_ticket_rate", difference);
    }
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    if baseline_tickets < t.min_baseline_tickets
        || days_since_launch < t.min_days
        || reach.learners < t.min_learners
    {
        return Diagnosis {
            code: "insufficient_data",
            message: format!(
                "Not enough to judge yet: {baseline_tickets} baseline tickets, {days_since_launch} days since launch, {} learners.",
                reach.learners
            ),
            action: "Wait for more data.".into(),
            evidence,
        };
    }
    if reach.population_share < t.min_population_share
        || reach.requesters_seen_before_share < t.min_requesters_seen_share
    {
        return Diagnosis {
            code: "low_reach",
            message: format!(
                "Only {} of people who filed matching tickets since launch had seen the content first ({} of everyone involved has seen it).",
                pct(reach.requesters_seen_before_share),
                pct(reach.population_share)
            ),
            action: "Update promotion or placement: put the content where people meet the problem.".into(),
            evidence,
        };
    }
    if let Some(video) = &consumption.video
        && let Some(at) = video.largest_drop_at
        && (video.largest_drop >= t.max_video_drop || consumption.completion_rate < t.min_completion_rate)
    {
        evidence.insert("largest_drop_at", at);
        evidence.insert("largest_drop", video.largest_drop);
        return Diagnosis {
            code: "drop_off",
            message: format!(
                "{} of viewers stop watching at {} of the video; {} complete the content.",
                pct(video.largest_drop),
                pct(at),
                pct(consumption.completion_rate)
            ),
            action: format!("Update the content at {} of the video, where viewers leave.", pct(at)),
            evidence,
        };
    }
    if consumption.completion_rate < t.min_completion_rate {
        return Diagnosis {
            code: "drop_off",
            message: format!(
                "Only {} of people who start the content complete it.",
                pct(consumption.completion_rate)
            ),
            action: "Update the content: people start it but do not finish.".into(),
            evidence,
        };
    }
    let effective = effect.relative_difference.is_some_and(|d| d <= -t.min_effect);
    if !effective {
        return Diagnosis {
            code: "no_effect",
            message: format!(
                "People saw and completed the content ({} completion), but those who saw it file matching tickets about as often as those who had not ({}).",
                pct(consumption.completion_rate),
                effect.relative_difference.map_or("no comparison".into(), |d| format!("{:+.0}%", d * 100.0))
            ),
            action: "Update the content itself: it does not address what people file tickets about.".into(),
            evidence,
        };
    }
    Diagnosis {
        code: "working",
        message: format!(
            "People who saw the content file {:.0}% fewer matching tickets; tickets changed {}.",
            -effect.relative_difference.unwrap_or(0.0) * 100.0,
            change_pct.map_or("—".into(), |c| format!("{c:+.0}%"))
        ),
        action: "Keep going.".into(),
        evidence,
    }
}

fn status(
    goal: &Goal,
    as_of: Date,
    diagnosis: &Diagnosis,
    current_weekly: f64,
    target_weekly: f64,
    change_pct: Option<f64>,
) -> &'static str {
    if diagnosis.code == "insufficient_data" {
        return "insufficient_data";
    }
    if current_weekly <= target_weekly {
        return "met";
    }
    if as_of >= goal.target.by {
        return "missed";
    }
    // On track when the drop so far keeps pace with a straight line to the target.
    let total = (day_start(goal.target.by) - day_start(goal.launch_date)) as f64;
    let elapsed = (day_start(as_of) - day_start(goal.launch_date)) as f64;
    let expected = goal.target.reduction_pct * (elapsed / total).clamp(0.0, 1.0);
    let achieved = -change_pct.unwrap_or(0.0);
    if achieved >= 0.75 * expected && diagnosis.code == "working" { "on_track" } else { "at_risk" }
}

/// Where periods start: the baseline, the launch, each recorded change and each content
/// revision seen from the launch on, in time order. Periods start at midnight UTC, so
/// everything that happened on one day starts one period ("after launch and revision 2 of
/// …"): a few hours between a launch and a chatbot update seen that morning are no period.
fn period_starts(
    input: &ReportInput<'_>,
    revisions: &[ContentRevision],
    baseline_start: i64,
    launch: i64,
    end: i64,
) -> Vec<(String, i64)> {
    let day = |at: i64| at.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
    let mut events: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    events.entry(day(launch)).or_default().push("launch".into());
    let changes = input.changes.iter().map(|c| (c.at, format!("{} change: {}", c.kind, c.note)));
    let revised = revisions.iter().map(|r| (r.at_micros, r.describe()));
    for (at, event) in changes.chain(revised).filter(|(at, _)| day(*at) >= day(launch) && *at < end) {
        events.entry(day(at)).or_default().push(event);
    }
    let mut starts = vec![("before launch".to_string(), baseline_start)];
    starts.extend(events.into_iter().map(|(at, events)| (format!("after {}", events.join(" and ")), at)));
    starts
}

fn periods(
    bounds: &[(String, i64)],
    end: i64,
    tickets: &[(usize, &TicketRow)],
    first_seen: &HashMap<usize, i64>,
    completed: &HashSet<usize>,
) -> Vec<Period> {
    let mut periods = Vec::new();
    for (i, (name, from)) in bounds.iter().enumerate() {
        let to = bounds.get(i + 1).map_or(end, |(_, at)| *at);
        let count = tickets.iter().filter(|(_, t)| t.created >= *from && t.created < to).count() as u64;
        let starters: Vec<usize> =
            first_seen.iter().filter(|(_, s)| **s >= *from && **s < to).map(|(p, _)| *p).collect();
        let finished = starters.iter().filter(|p| completed.contains(p)).count() as u64;
        periods.push(Period {
            name: name.clone(),
            from: date_of(*from),
            to: date_of(to),
            tickets_weekly: weekly(count, *from, to),
            new_learners: starters.len() as u64,
            completion_rate: (!starters.is_empty()).then(|| share(finished, starters.len() as u64)),
        });
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(activity: &str, marker: &str, first_seen: i64) -> RevisionRow {
        RevisionRow { activity_id: activity.into(), marker: marker.into(), first_seen }
    }

    #[test]
    fn markers_after_the_first_of_their_kind_are_new_revisions() {
        let day = MICROS_PER_DAY;
        let rows = [
            marker("video", "revision:1", 0),
            marker("video", "definition:aa", 0),
            // A new revision and definition seen together are one revision.
            marker("video", "revision:2", 10 * day),
            marker("video", "definition:bb", 10 * day),
            // A definition changed without a revision value.
            marker("video", "definition:cc", 20 * day),
            // Another activity's first markers are not revisions, whenever they come.
            marker("survey", "definition:dd", 15 * day),
        ];
        let found = content_revisions(&rows);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].revision.as_deref(), found[0].definition_changed), (Some("2"), true));
        assert_eq!(found[0].at, "1970-01-11");
        assert_eq!((found[1].revision.as_deref(), found[1].definition_changed), (None, true));
        assert_eq!(found[1].describe(), "a new definition of video");
    }
}
