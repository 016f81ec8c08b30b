//! The measure-and-update report of a goal: did the content reach people, how was it
//! consumed, did tickets move, and if the goal is not being met, what to change.
//! Pure: the caller gathers tickets and rollups from the store (see `service.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::civil::Date;
use serde::Serialize;
use store::insights::{ActivityActorRow, ChangeRow, DailyActorRow, DailyRow, RevisionRow, TicketRow};

use crate::days::{MICROS_PER_DAY, MICROS_PER_WEEK, date_of, day_start};
use crate::diagnosis;
use crate::dropoff::{self, LargestDrop, Viewing};
use crate::estimate::{self, Arm, IntervalMethod, PersonArms};
use crate::goal::Goal;
use crate::people::People;

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

/// The instants a report counts between: the baseline's start, the launch, and the end
/// of what is known (exclusive). Every count, rate and series point of a report stops at
/// `end`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    pub baseline_start: String,
    pub launch: String,
    pub end: String,
    /// Why it ends there: `as_of` (the end of the report's day), `last_complete_day` (today
    /// has not ended: the window stops at today's midnight, UTC) or `tickets_known_through`
    /// (the goal's ticket sources are known only so far).
    pub end_reason: &'static str,
    #[serde(skip)]
    pub baseline_start_micros: i64,
    #[serde(skip)]
    pub launch_micros: i64,
    #[serde(skip)]
    pub end_micros: i64,
}

impl Window {
    /// A goal's window as of a day: it ends at the earliest of the end of `as_of`, the
    /// start of `today` (a day counts only once it is complete) and just after
    /// `known_through` (the earliest coverage end of the goal's ticket sources).
    pub fn of(goal: &Goal, as_of: Date, today: Date, known_through: Option<i64>) -> Window {
        let launch = day_start(goal.launch_date);
        let baseline_start = launch - i64::from(goal.baseline_days) * MICROS_PER_DAY;
        let mut end = (day_start(as_of) + MICROS_PER_DAY, "as_of");
        let known = known_through.map_or(i64::MAX, |k| k.saturating_add(1));
        for candidate in [(day_start(today), "last_complete_day"), (known, "tickets_known_through")] {
            if candidate.0 < end.0 {
                end = candidate;
            }
        }
        Window {
            baseline_start: instant_text(baseline_start),
            launch: instant_text(launch),
            end: instant_text(end.0),
            end_reason: end.1,
            baseline_start_micros: baseline_start,
            launch_micros: launch,
            end_micros: end.0,
        }
    }
}

/// Who the effect is measured over: every person the store knows (see [`POPULATION`]).
pub struct Population<'a> {
    /// Actors (agent keys) of any activity, first seen before the window's end.
    pub actors: &'a [String],
    /// Requesters (their agent keys) of tickets of any source created before the end.
    pub requesters: &'a [Vec<String>],
}

/// The report's statement of its population.
pub const POPULATION: &str = "every person known to the store before the window's end: the actors of \
    its statements about any activity and the requesters of its tickets from any source, joined into \
    people by their agent keys";

/// What the report is computed from.
pub struct ReportInput<'a> {
    pub goal: &'a Goal,
    pub as_of: Date,
    pub window: Window,
    pub interval: Interval,
    /// Tickets the goal is about, created from the baseline's start to the window's end.
    pub tickets: &'a [TicketRow],
    /// The earliest coverage end of the goal's ticket sources, if any imported.
    pub known_through: Option<i64>,
    pub population: Population<'a>,
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
    pub window: Window,
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
                at: date_text(row.first_seen),
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
    /// working, low_reach, drop_off, no_effect, not_yet_measurable or insufficient_data.
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
    /// Over the last 28 days of the window after launch.
    pub current_weekly: f64,
    /// Change of the current weekly rate against the baseline, in percent (negative: fewer).
    pub change_pct: Option<f64>,
    /// Its 95% interval, in percent (from the rate ratio of the two periods).
    pub change_ci95_pct: Option<[f64; 2]>,
    pub target_weekly: f64,
    pub baseline_tickets: u64,
    pub current_tickets: u64,
    /// The earliest coverage end of the goal's ticket sources (RFC 3339): tickets created
    /// after it may not have been imported yet, so the window ends there.
    pub known_through: Option<String>,
    pub series: Vec<SeriesPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub start: String,
    /// Tickets in the interval, up to the window's end.
    pub tickets: u64,
    /// People who first touched the content in this interval.
    pub new_learners: u64,
    /// People who had touched it by the interval's end.
    pub learners: u64,
    /// The window ends inside this interval: its counts cover only the known part.
    pub partial: bool,
    /// Days of the interval inside the window.
    pub days: f64,
}

/// Reach, by measures that do not depend on the effect; the seen-before share is only a
/// description (it is low precisely when the content works: the people who still file
/// are mostly those who had not seen it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reach {
    /// The people of the effect's population.
    pub population: u64,
    /// Those who touched the content before the window's end.
    pub learners: u64,
    pub population_share: f64,
    /// People who filed goal tickets in the baseline (the people at risk).
    pub at_risk: u64,
    /// Of those, how many touched the content.
    pub at_risk_reached: u64,
    pub at_risk_share: f64,
    pub requesters_after_launch: u64,
    /// Of those, how many had touched the content before their first ticket after launch.
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
    /// Where the most viewers leave one of the goal's videos, to 1% of its length (from
    /// the played segments), over at most a tenth of it: of the videos with at least
    /// `min_learners` viewers, the drop that loses the most people.
    pub largest_drop: Option<LargestDrop>,
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

/// The effect of the content as an incidence-rate ratio with time-varying exposure: each
/// person of the population is unexposed from launch until their first touch of the
/// content and exposed from then (or from launch, when they touched it before) to the
/// window's end; each goal ticket after launch counts in the arm its requester was in
/// when it was created.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Effect {
    /// Who the person-time is counted over ([`POPULATION`]).
    pub population: &'static str,
    pub people: u64,
    pub exposed: ArmSummary,
    pub unexposed: ArmSummary,
    /// Goal tickets after launch without an identifiable requester (in neither arm).
    pub unattributed_tickets: u64,
    /// Exposed rate over unexposed rate (below 1: people file fewer after seeing it).
    pub rate_ratio: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub interval_method: Option<IntervalMethod>,
    /// effective (the interval lies below 1 − min_effect), no_effect (it lies at or above
    /// it), unclear (it straddles it) or not_measurable (too few tickets or too little
    /// person-time; see `Thresholds::min_effect_tickets`).
    pub verdict: Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArmSummary {
    pub tickets: u64,
    pub person_weeks: f64,
    /// Tickets per person-week.
    pub rate: Option<f64>,
}

/// What the effect's interval says against the goal's `min_effect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Effective,
    NoEffect,
    Unclear,
    NotMeasurable,
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
    /// The last period, when the window ends before the end of the report's day (today has
    /// not ended, or the tickets are known only so far): its rates cover only its known part.
    pub partial: bool,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn weeks(micros: i128) -> f64 {
    micros as f64 / MICROS_PER_WEEK as f64
}

fn weekly(count: u64, from: i64, to: i64) -> f64 {
    let weeks = weeks(i128::from(to - from));
    if weeks <= 0.0 { 0.0 } else { count as f64 / weeks }
}

/// Computes a goal's report.
pub fn report(input: &ReportInput<'_>) -> Report {
    let goal = input.goal;
    let window = &input.window;
    let (baseline_start, launch, end) =
        (window.baseline_start_micros, window.launch_micros, window.end_micros);

    // People: every identity the inputs name, joined on their keys, then resolved.
    let mut people = People::default();
    let row_handles: Vec<Option<usize>> = input.rows.iter().map(|r| people.add([&r.actor])).collect();
    let ticket_handles: Vec<Option<usize>> =
        input.tickets.iter().map(|t| people.add(&t.requester_keys)).collect();
    let mut known: Vec<Option<usize>> = input.population.actors.iter().map(|a| people.add([a])).collect();
    known.extend(input.population.requesters.iter().map(|keys| people.add(keys)));
    let mut population: BTreeSet<usize> = known.into_iter().flatten().map(|h| people.person(h)).collect();

    let mut first_seen: HashMap<usize, i64> = HashMap::new();
    let mut completed: HashSet<usize> = HashSet::new();
    let mut per_person_kind: HashMap<(usize, ContentKind), f64> = HashMap::new();
    let kind_of = |activity: &str| input.kinds.get(activity).copied().unwrap_or(ContentKind::Course);
    let teaches = teaching_kinds(input.rows.iter().map(|r| kind_of(&r.activity_id)));
    for (row, handle) in input.rows.iter().zip(&row_handles) {
        let Some(handle) = handle.filter(|_| row.first_seen < end) else { continue };
        let p = people.person(handle);
        let kind = kind_of(&row.activity_id);
        let best = per_person_kind.entry((p, kind)).or_insert(0.0);
        *best = best.max(row.best_progress);
        if !teaches.contains(&kind) {
            continue;
        }
        let seen = first_seen.entry(p).or_insert(row.first_seen);
        *seen = (*seen).min(row.first_seen);
        if row.completions > 0 {
            completed.insert(p);
        }
    }
    let tickets: Vec<(Option<usize>, &TicketRow)> = input
        .tickets
        .iter()
        .zip(&ticket_handles)
        .filter(|(t, _)| t.created >= baseline_start && t.created < end)
        .map(|(t, handle)| (handle.map(|h| people.person(h)), t))
        .collect();
    population.extend(first_seen.keys().copied());
    population.extend(tickets.iter().filter_map(|(p, _)| *p));
    let learners = first_seen.len() as u64;

    // Tickets: baseline and current weekly rates, their ratio, and the series.
    let in_range =
        |from: i64, to: i64| tickets.iter().filter(move |(_, t)| t.created >= from && t.created < to);
    let baseline_end = launch.min(end);
    let baseline_tickets = in_range(baseline_start, baseline_end).count() as u64;
    let baseline_weekly = weekly(baseline_tickets, baseline_start, baseline_end);
    let current_start = launch.max(end - 28 * MICROS_PER_DAY);
    let current_tickets = in_range(current_start, end).count() as u64;
    let current_weekly = weekly(current_tickets, current_start, end);
    let change = estimate::rate_ratio(
        Arm { events: current_tickets, time: weeks(i128::from(end - current_start)) },
        Arm { events: baseline_tickets, time: weeks(i128::from(baseline_end - baseline_start)) },
        &[],
    );
    let change_pct =
        (baseline_weekly > 0.0).then(|| (current_weekly - baseline_weekly) / baseline_weekly * 100.0);
    let target_weekly = baseline_weekly * (1.0 - goal.target.reduction_pct / 100.0);
    let step = input.interval.days() * MICROS_PER_DAY;
    let mut series = Vec::new();
    let mut start = baseline_start;
    while start < end {
        let stop = (start + step).min(end);
        let in_interval = |t: i64| t >= start && t < stop;
        series.push(SeriesPoint {
            start: date_text(start),
            tickets: tickets.iter().filter(|(_, t)| in_interval(t.created)).count() as u64,
            new_learners: first_seen.values().filter(|s| in_interval(**s)).count() as u64,
            learners: first_seen.values().filter(|s| **s < stop).count() as u64,
            partial: stop < start + step,
            days: (stop - start) as f64 / MICROS_PER_DAY as f64,
        });
        start += step;
    }

    // Reach, by measures the effect does not move.
    let at_risk: BTreeSet<usize> = in_range(baseline_start, baseline_end).filter_map(|(p, _)| *p).collect();
    let at_risk_reached = at_risk.iter().filter(|p| first_seen.contains_key(p)).count() as u64;
    let mut after_launch: BTreeMap<usize, i64> = BTreeMap::new();
    for (p, t) in in_range(launch, end) {
        if let Some(p) = p {
            let first = after_launch.entry(*p).or_insert(t.created);
            *first = (*first).min(t.created);
        }
    }
    let seen_before =
        after_launch.iter().filter(|(p, ticket_at)| first_seen.get(p).is_some_and(|s| s < ticket_at)).count()
            as u64;
    let reach = Reach {
        population: population.len() as u64,
        learners,
        population_share: share(learners, population.len() as u64),
        at_risk: at_risk.len() as u64,
        at_risk_reached,
        at_risk_share: share(at_risk_reached, at_risk.len() as u64),
        requesters_after_launch: after_launch.len() as u64,
        requesters_seen_before: seen_before,
        requesters_seen_before_share: share(seen_before, after_launch.len() as u64),
    };

    let effect = effect(goal, &population, &first_seen, in_range(launch, end), launch, end);

    // Consumption.
    let completions = completed.len() as u64;
    let consumption = Consumption {
        starts: learners,
        completions,
        completion_rate: share(completions, learners),
        video: video_consumption(&per_person_kind, largest_video_drop(input, end)),
        chatbot: chatbot_use(input),
    };
    let feedback = survey(input);

    let days_since_launch = (end - launch).div_euclid(MICROS_PER_DAY);
    let diagnosis = diagnosis::diagnose(&diagnosis::Evidence {
        goal,
        reach: &reach,
        consumption: &consumption,
        effect: &effect,
        change_pct,
        baseline_tickets,
        days_since_launch,
    });
    let status =
        diagnosis::status(goal, input.as_of, end, &diagnosis, current_weekly, target_weekly, change.as_ref());
    let revisions = content_revisions(input.revisions);
    let starts = period_starts(input, &revisions, baseline_start, launch, end);
    let cut_short = window.end_reason != "as_of";
    let periods = periods(&starts, (end, cut_short), &tickets, &first_seen, &completed);
    Report {
        as_of: input.as_of.to_string(),
        interval: input.interval,
        window: window.clone(),
        status,
        diagnosis,
        tickets: Tickets {
            baseline_weekly,
            current_weekly,
            change_pct,
            change_ci95_pct: change.map(|c| c.ci95.map(|r| (r - 1.0) * 100.0)),
            target_weekly,
            baseline_tickets,
            current_tickets,
            known_through: input.known_through.map(instant_text),
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

/// The kinds of content whose touch makes a person a learner (and exposed): videos and
/// courses. A chatbot is a help channel people turn to when they have the problem (its
/// users file more tickets whatever it teaches), so it counts only in a goal whose content
/// has nothing else; a survey answer never does (it comes after the content).
fn teaching_kinds(kinds: impl Iterator<Item = ContentKind>) -> Vec<ContentKind> {
    let kinds: HashSet<ContentKind> = kinds.collect();
    if kinds.contains(&ContentKind::Video) || kinds.contains(&ContentKind::Course) {
        vec![ContentKind::Video, ContentKind::Course]
    } else {
        vec![ContentKind::Chatbot]
    }
}

/// The incidence-rate ratio of the exposed and unexposed person-time of the population
/// after launch, with its interval and verdict.
fn effect<'t>(
    goal: &Goal,
    population: &BTreeSet<usize>,
    first_seen: &HashMap<usize, i64>,
    tickets_after_launch: impl Iterator<Item = &'t (Option<usize>, &'t TicketRow)>,
    launch: i64,
    end: i64,
) -> Effect {
    // Person-time summed in whole microseconds: exact, so every process (and a read
    // replica) answers the same JSON whatever order it visits people in.
    let (mut exposed_micros, mut unexposed_micros) = (0i128, 0i128);
    let mut arms: BTreeMap<usize, PersonArms> = BTreeMap::new();
    for &p in population {
        let switch = first_seen.get(&p).map_or(end, |s| (*s).clamp(launch, end.max(launch)));
        let (unexposed, exposed) = (i128::from(switch - launch).max(0), i128::from(end - switch).max(0));
        unexposed_micros += unexposed;
        exposed_micros += exposed;
        let time = |micros: i128| Arm { events: 0, time: weeks(micros) };
        arms.insert(p, PersonArms { first: time(exposed), second: time(unexposed) });
    }
    let (mut exposed_tickets, mut unexposed_tickets, mut unattributed) = (0u64, 0u64, 0u64);
    for (p, t) in tickets_after_launch {
        let Some(arm) = p.and_then(|p| arms.get_mut(&p)) else {
            unattributed += 1;
            continue;
        };
        if p.and_then(|p| first_seen.get(&p)).is_some_and(|s| *s < t.created) {
            exposed_tickets += 1;
            arm.first.events += 1;
        } else {
            unexposed_tickets += 1;
            arm.second.events += 1;
        }
    }
    let exposed = Arm { events: exposed_tickets, time: weeks(exposed_micros) };
    let unexposed = Arm { events: unexposed_tickets, time: weeks(unexposed_micros) };
    let people: Vec<PersonArms> = arms.into_values().collect();
    let ratio = estimate::rate_ratio(exposed, unexposed, &people);
    let t = &goal.thresholds;
    let measurable = exposed.time >= 1.0
        && unexposed.time >= 1.0
        && exposed.events + unexposed.events >= t.min_effect_tickets;
    let verdict = match ratio {
        Some(r) if measurable => {
            let threshold = 1.0 - t.min_effect;
            if r.ci95[1] < threshold {
                Verdict::Effective
            } else if r.ci95[0] >= threshold {
                Verdict::NoEffect
            } else {
                Verdict::Unclear
            }
        }
        _ => Verdict::NotMeasurable,
    };
    let summary = |arm: Arm| ArmSummary { tickets: arm.events, person_weeks: arm.time, rate: arm.rate() };
    Effect {
        population: POPULATION,
        people: population.len() as u64,
        exposed: summary(exposed),
        unexposed: summary(unexposed),
        unattributed_tickets: unattributed,
        rate_ratio: ratio.map(|r| r.ratio),
        ci95: ratio.map(|r| r.ci95),
        interval_method: ratio.map(|r| r.method),
        verdict,
    }
}

fn date_text(micros: i64) -> String {
    date_of(micros).to_string()
}

/// An instant as RFC 3339 in UTC.
pub(crate) fn instant_text(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros).map(|t| t.to_string()).unwrap_or_default()
}

fn video_consumption(
    per_person_kind: &HashMap<(usize, ContentKind), f64>,
    largest_drop: Option<LargestDrop>,
) -> Option<VideoConsumption> {
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
    let largest_drop_at = (0..10)
        .map(|k| (k as f64 / 10.0, still_watching[k] - still_watching[k + 1]))
        .fold((None, 0.0), |(at, drop), (here, d)| if d > drop { (Some(here), d) } else { (at, drop) })
        .0;
    Some(VideoConsumption { viewers: viewers as u64, still_watching, largest_drop_at, largest_drop })
}

/// The drop that loses the most viewers of any of the goal's videos watched by at least
/// `min_learners` people before the window's end.
fn largest_video_drop(input: &ReportInput<'_>, end: i64) -> Option<LargestDrop> {
    let mut by_video: BTreeMap<&str, Vec<Viewing<'_>>> = BTreeMap::new();
    for row in input.rows.iter().filter(|r| r.first_seen < end) {
        if input.kinds.get(&row.activity_id) == Some(&ContentKind::Video) {
            by_video.entry(&row.activity_id).or_default().push(Viewing {
                segments: &row.segments,
                length: row.length,
                best_progress: row.best_progress,
            });
        }
    }
    by_video
        .into_iter()
        .filter(|(_, viewings)| viewings.len() as u64 >= input.goal.thresholds.min_learners)
        .filter_map(|(video, viewings)| dropoff::of_video(video, &viewings))
        // The drop that loses the most people: where editing helps the most viewers.
        .fold(None, |best: Option<LargestDrop>, drop| match best {
            Some(b) if b.lost * b.viewers as f64 >= drop.lost * drop.viewers as f64 => Some(b),
            _ => Some(drop),
        })
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

/// The periods between `bounds`, the last one up to `end`, which is partial when the window
/// was `cut_short`.
fn periods(
    bounds: &[(String, i64)],
    (end, cut_short): (i64, bool),
    tickets: &[(Option<usize>, &TicketRow)],
    first_seen: &HashMap<usize, i64>,
    completed: &HashSet<usize>,
) -> Vec<Period> {
    let mut periods = Vec::new();
    for (i, (name, from)) in bounds.iter().enumerate() {
        let next = bounds.get(i + 1).map(|(_, at)| *at);
        let to = next.unwrap_or(end);
        let count = tickets.iter().filter(|(_, t)| t.created >= *from && t.created < to).count() as u64;
        let starters: Vec<usize> =
            first_seen.iter().filter(|(_, s)| **s >= *from && **s < to).map(|(p, _)| *p).collect();
        let finished = starters.iter().filter(|p| completed.contains(p)).count() as u64;
        periods.push(Period {
            name: name.clone(),
            from: date_text(*from),
            to: date_text(to),
            tickets_weekly: weekly(count, *from, to),
            new_learners: starters.len() as u64,
            completion_rate: (!starters.is_empty()).then(|| share(finished, starters.len() as u64)),
            partial: next.is_none() && cut_short,
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

    fn goal() -> Goal {
        Goal::parse(
            br#"{"name": "g", "content": {"activity_id_prefix": "https://a.example/"},
                 "launch_date": "2026-03-02", "target": {"reduction_pct": 30, "by": "2026-04-27"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_window_ends_at_the_last_complete_day_and_where_tickets_are_known() {
        let date = |text: &str| text.parse::<Date>().unwrap();
        // A past day: its whole day counts.
        let past = Window::of(&goal(), date("2026-03-20"), date("2026-12-07"), None);
        assert_eq!((past.end.as_str(), past.end_reason), ("2026-03-21T00:00:00Z", "as_of"));
        assert_eq!(past.baseline_start, "2026-02-02T00:00:00Z");
        // Today has not ended: the window stops at its midnight.
        let today = Window::of(&goal(), date("2026-03-20"), date("2026-03-20"), None);
        assert_eq!((today.end.as_str(), today.end_reason), ("2026-03-20T00:00:00Z", "last_complete_day"));
        // Tickets known only through the 15th, 12:00: the window ends just after.
        let known = day_start(date("2026-03-15")) + 12 * 3_600_000_000;
        let early = Window::of(&goal(), date("2026-03-20"), date("2026-12-07"), Some(known));
        assert_eq!((early.end_micros, early.end_reason), (known + 1, "tickets_known_through"));
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
