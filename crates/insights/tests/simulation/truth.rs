//! What a correct goal report must say about a simulated scenario, worked out from the four
//! files it wrote (`statements.ndjson`, `tickets.csv`, `goal.json`, `scenario.json`) and
//! nothing else: no code of the `insights` crate, so the report and this check can only
//! agree by both being right. The definitions are the report's own (README, "The report"),
//! spelled out here once more:
//!
//! - an actor's key is `mbox:` + its lowercased mbox IRI or `mbox_sha1sum:` + lowercase hex;
//!   a requester email `e` has both `mbox:mailto:lower(e)` and
//!   `mbox_sha1sum:sha1("mailto:" + lower(e))`; persons are the connected components;
//! - voided statements and voiding statements count for nothing;
//! - the window is `[launch − baseline_days, launch)` then `[launch, E)` with
//!   `E = min(as_of + 1 day, K + 1 µs)`, `K` the export's `tickets_through` or else its
//!   latest creation time;
//! - a person is exposed from their earliest counted statement on the goal's content.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use sha1::{Digest, Sha1};

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_WEEK: f64 = 7.0 * 86_400.0 * 1e6;
const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// The report's default thresholds, which the generated goals keep.
pub const MIN_POPULATION_SHARE: f64 = 0.3;
pub const MIN_AT_RISK_SHARE: f64 = 0.3;
pub const MAX_VIDEO_DROP: f64 = 0.3;
pub const MIN_COMPLETION_RATE: f64 = 0.5;
/// `1 − min_effect`.
pub const EFFECT_THRESHOLD: f64 = 0.8;
pub const MIN_BASELINE_TICKETS: u64 = 5;
pub const MIN_LEARNERS: u64 = 5;
/// How far from a threshold a measure must lie for a scenario to be a clear case.
pub const CLEAR_MARGIN: f64 = 0.1;

/// One week of the ticket series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPoint {
    pub start: i64,
    pub tickets: u64,
    pub new_learners: u64,
    pub learners: u64,
    pub partial: bool,
}

/// Tickets and person-time of one arm of the effect.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Arm {
    pub tickets: u64,
    pub person_weeks: f64,
}

impl Arm {
    pub fn rate(&self) -> Option<f64> {
        (self.person_weeks > 0.0).then(|| self.tickets as f64 / self.person_weeks)
    }
}

/// The right answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    /// From `scenario.json`: what the generator was told.
    pub true_ratio: f64,
    pub drop_off_point: Option<f64>,
    pub as_of: String,
    pub tickets_through: Option<i64>,
    /// µs since the epoch.
    pub baseline_start: i64,
    pub launch: i64,
    pub end: i64,
    /// What the tickets are known through (`K`).
    pub known_through: i64,
    pub baseline_tickets: u64,
    pub current_tickets: u64,
    pub series: Vec<SeriesPoint>,
    pub population: u64,
    pub learners: u64,
    pub at_risk: u64,
    pub at_risk_reached: u64,
    pub requesters_after_launch: u64,
    pub requesters_seen_before: u64,
    pub exposed: Arm,
    pub unexposed: Arm,
    /// Viewers (learners) who completed, over learners.
    pub completion_share: f64,
    /// The share of learners whose furthest point in the video lies within 2% of the
    /// drop-off point (none without a drop-off).
    pub drop_off_share: Option<f64>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

impl Truth {
    pub fn population_share(&self) -> f64 {
        share(self.learners, self.population)
    }

    pub fn at_risk_share(&self) -> f64 {
        share(self.at_risk_reached, self.at_risk)
    }

    pub fn requesters_seen_before_share(&self) -> f64 {
        share(self.requesters_seen_before, self.requesters_after_launch)
    }

    pub fn rate_ratio(&self) -> Option<f64> {
        match (self.exposed.rate(), self.unexposed.rate()) {
            (Some(e), Some(u)) if u > 0.0 => Some(e / u),
            _ => None,
        }
    }

    /// What a correct diagnosis is when the scenario is clear (every measure the table
    /// decides on lies at least [`CLEAR_MARGIN`] from its threshold), else `None`.
    pub fn expected_code(&self) -> Option<&'static str> {
        let far = |value: f64, threshold: f64| (value - threshold).abs() >= CLEAR_MARGIN;
        if self.baseline_tickets < MIN_BASELINE_TICKETS || self.learners < MIN_LEARNERS {
            return Some("insufficient_data");
        }
        let at_risk_counts = self.at_risk > 0;
        if !far(self.population_share(), MIN_POPULATION_SHARE)
            || (at_risk_counts && !far(self.at_risk_share(), MIN_AT_RISK_SHARE))
            || !far(self.true_ratio, EFFECT_THRESHOLD)
            || self.drop_off_share.is_some_and(|s| !far(s, MAX_VIDEO_DROP))
            || !far(self.completion_share, MIN_COMPLETION_RATE)
        {
            return None;
        }
        if self.population_share() < MIN_POPULATION_SHARE
            || (at_risk_counts && self.at_risk_share() < MIN_AT_RISK_SHARE)
        {
            return Some("low_reach");
        }
        if self.drop_off_share.is_some_and(|s| s >= MAX_VIDEO_DROP)
            || self.completion_share < MIN_COMPLETION_RATE
        {
            return Some("drop_off");
        }
        Some(if self.true_ratio < EFFECT_THRESHOLD { "working" } else { "no_effect" })
    }
}

/// Union–find over identity keys.
#[derive(Default)]
struct Keys {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
}

impl Keys {
    fn id(&mut self, key: &str) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.index.insert(key.to_owned(), i);
        i
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: &str, b: &str) {
        let (a, b) = (self.id(a), self.id(b));
        let (a, b) = (self.root(a), self.root(b));
        self.parent[a] = b;
    }
}

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn actor_key(actor: &Value) -> Option<String> {
    if let Some(mbox) = actor.get("mbox").and_then(Value::as_str) {
        return Some(format!("mbox:{}", mbox.to_lowercase()));
    }
    if let Some(hash) = actor.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(format!("mbox_sha1sum:{}", hash.to_lowercase()));
    }
    if let Some(account) = actor.get("account") {
        let (home, name) = (account.get("homePage")?.as_str()?, account.get("name")?.as_str()?);
        return Some(format!("account:{home}|{name}"));
    }
    actor.get("openid").and_then(Value::as_str).map(|o| format!("openid:{o}"))
}

fn instant(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{text:?}: {e}")).as_microsecond()
}

fn midnight(date: &str) -> i64 {
    let date: jiff::civil::Date = date.parse().unwrap_or_else(|e| panic!("{date:?}: {e}"));
    date.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_microsecond()
}

/// A Zendesk `Created at` (UTC, `%Y-%m-%d %H:%M:%S`).
fn created_at(text: &str) -> i64 {
    let at = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text.trim())
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    at.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_microsecond()
}

/// The furthest point (share of the video) a statement's played segments reach.
fn furthest(statement: &Value) -> Option<f64> {
    let length = statement
        .pointer("/context/extensions/https:~1~1w3id.org~1xapi~1video~1extensions~1length")
        .and_then(Value::as_f64)?;
    let segments = statement
        .pointer("/result/extensions/https:~1~1w3id.org~1xapi~1video~1extensions~1played-segments")
        .and_then(Value::as_str)?;
    let end = segments
        .split("[,]")
        .filter_map(|s| s.split_once("[.]"))
        .filter_map(|(_, end)| end.trim().parse::<f64>().ok())
        .fold(0.0f64, f64::max);
    (length > 0.0).then(|| end / length)
}

struct Statement {
    key: String,
    at: i64,
    on_content: bool,
    on_activity: bool,
    completed: bool,
    furthest: Option<f64>,
}

struct Ticket {
    keys: [String; 2],
    created: i64,
    goal: bool,
}

impl Truth {
    /// Works out the right answer from the files in `dir`.
    pub fn of_files(dir: &Path) -> Truth {
        of_files(dir)
    }
}

fn of_files(dir: &Path) -> Truth {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let goal: Value = serde_json::from_str(&read("goal.json")).expect("goal.json");
    let scenario: Value = serde_json::from_str(&read("scenario.json")).expect("scenario.json");
    let prefix = goal["content"]["activity_id_prefix"].as_str().expect("a prefix").to_owned();
    let tags: Vec<String> = goal["tickets"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().unwrap().to_lowercase())
        .collect();
    let launch = midnight(goal["launch_date"].as_str().expect("launch_date"));
    let baseline_start = launch - goal["baseline_days"].as_i64().expect("baseline_days") * MICROS_PER_DAY;
    let as_of = scenario["as_of"].as_str().expect("as_of").to_owned();
    let tickets_through = scenario.get("tickets_through").and_then(Value::as_str).map(instant);

    // Statements: first find what is voided, then keep the rest.
    let values: Vec<Value> = read("statements.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a statement per line"))
        .collect();
    let voiding = |s: &Value| s["verb"]["id"] == VOIDED && s["object"]["objectType"] == "StatementRef";
    let voided: HashSet<&str> =
        values.iter().filter(|s| voiding(s)).filter_map(|s| s["object"]["id"].as_str()).collect();
    let mut keys = Keys::default();
    let mut statements = Vec::new();
    for s in &values {
        if voiding(s) || s["id"].as_str().is_some_and(|id| voided.contains(id)) {
            continue;
        }
        let Some(key) = actor_key(&s["actor"]) else { continue };
        keys.id(&key);
        let object = &s["object"];
        let on_activity =
            object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") == "Activity";
        let on_content = on_activity && object["id"].as_str().is_some_and(|id| id.starts_with(&prefix));
        let completed = s.pointer("/result/completion").and_then(Value::as_bool).unwrap_or(false)
            || s["verb"]["id"].as_str().is_some_and(|v| v.ends_with("/completed"));
        statements.push(Statement {
            key,
            at: instant(s["timestamp"].as_str().expect("generated statements have timestamps")),
            on_content,
            on_activity,
            completed,
            furthest: if on_content { furthest(s) } else { None },
        });
    }

    // Tickets.
    let csv_text = read("tickets.csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("a header").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name}"));
    let (created_col, tags_col, email_col) =
        (column("Created at"), column("Tags"), column("Requester email"));
    let mut tickets = Vec::new();
    for record in reader.records() {
        let record = record.expect("a CSV record");
        let email = record[email_col].trim().to_lowercase();
        let keys_of = [
            format!("mbox:mailto:{email}"),
            format!("mbox_sha1sum:{}", sha1_hex(&format!("mailto:{email}"))),
        ];
        keys.join(&keys_of[0], &keys_of[1]);
        let goal = record[tags_col]
            .split(|c: char| c.is_whitespace() || c == ',')
            .any(|t| tags.iter().any(|g| *g == t.to_lowercase()));
        tickets.push(Ticket { keys: keys_of, created: created_at(&record[created_col]), goal });
    }

    // The window.
    let known_through =
        tickets_through.unwrap_or_else(|| tickets.iter().map(|t| t.created).max().expect("some tickets"));
    let end = (midnight(&as_of) + MICROS_PER_DAY).min(known_through + 1);

    // Persons, the population and their exposure.
    let person_of = |keys: &mut Keys, key: &str| {
        let id = keys.id(key);
        keys.root(id)
    };
    let mut population: HashSet<usize> = HashSet::new();
    let mut exposure: HashMap<usize, i64> = HashMap::new();
    let mut completed: HashSet<usize> = HashSet::new();
    let mut furthest_of: HashMap<usize, f64> = HashMap::new();
    for s in &statements {
        let p = person_of(&mut keys, &s.key);
        if s.on_activity && s.at < end {
            population.insert(p);
        }
        if s.on_content {
            let x = exposure.entry(p).or_insert(s.at);
            *x = (*x).min(s.at);
            if s.completed {
                completed.insert(p);
            }
            if let Some(f) = s.furthest {
                let best = furthest_of.entry(p).or_insert(0.0);
                *best = best.max(f);
            }
        }
    }
    let goal_tickets: Vec<(usize, i64)> = tickets
        .iter()
        .map(|t| (person_of(&mut keys, &t.keys[0]), t))
        .inspect(|(p, t)| {
            if t.created < end {
                population.insert(*p);
            }
        })
        .filter(|(_, t)| t.goal)
        .map(|(p, t)| (p, t.created))
        .collect();
    // X ≥ E counts as never.
    let exposure: HashMap<usize, i64> =
        exposure.into_iter().filter(|(p, x)| *x < end && population.contains(p)).collect();

    let in_range = |from: i64, to: i64| goal_tickets.iter().filter(move |(_, at)| *at >= from && *at < to);
    let baseline_tickets = in_range(baseline_start, launch.min(end)).count() as u64;
    let current_tickets = in_range(launch.max(end - 28 * MICROS_PER_DAY), end).count() as u64;

    let mut series = Vec::new();
    let mut start = baseline_start;
    while start < end {
        let stop = (start + 7 * MICROS_PER_DAY).min(end);
        series.push(SeriesPoint {
            start,
            tickets: in_range(start, stop).count() as u64,
            new_learners: exposure.values().filter(|x| **x >= start && **x < stop).count() as u64,
            learners: exposure.values().filter(|x| **x < stop).count() as u64,
            partial: stop < start + 7 * MICROS_PER_DAY,
        });
        start += 7 * MICROS_PER_DAY;
    }

    let at_risk: HashSet<usize> = in_range(baseline_start, launch.min(end)).map(|(p, _)| *p).collect();
    let at_risk_reached = at_risk.iter().filter(|p| exposure.contains_key(p)).count() as u64;
    let mut first_after_launch: HashMap<usize, i64> = HashMap::new();
    for (p, at) in in_range(launch, end) {
        let first = first_after_launch.entry(*p).or_insert(*at);
        *first = (*first).min(*at);
    }
    let seen_before =
        first_after_launch.iter().filter(|(p, at)| exposure.get(p).is_some_and(|x| x < at)).count() as u64;

    // The effect: person-time from launch to the end, split at exposure.
    let (mut exposed, mut unexposed) = (Arm::default(), Arm::default());
    let (mut exposed_us, mut unexposed_us) = (0i128, 0i128);
    for p in &population {
        let x = exposure.get(p).copied().unwrap_or(end);
        unexposed_us += i128::from((x.min(end) - launch).max(0));
        exposed_us += i128::from((end - x.max(launch)).max(0));
    }
    for (p, at) in in_range(launch, end) {
        match exposure.get(p) {
            Some(x) if *x < *at => exposed.tickets += 1,
            _ => unexposed.tickets += 1,
        }
    }
    exposed.person_weeks = exposed_us as f64 / MICROS_PER_WEEK;
    unexposed.person_weeks = unexposed_us as f64 / MICROS_PER_WEEK;

    // Consumption of the video by the learners.
    let learners = exposure.len() as u64;
    let completions = exposure.keys().filter(|p| completed.contains(p)).count() as u64;
    let drop_off_point = scenario["drop_off"].get("point").and_then(Value::as_f64);
    let drop_off_share = drop_off_point.map(|point| {
        let stopped =
            exposure.keys().filter(|p| furthest_of.get(p).is_some_and(|f| (f - point).abs() <= 0.02)).count()
                as u64;
        share(stopped, learners)
    });

    Truth {
        true_ratio: scenario["true_ratio"].as_f64().expect("true_ratio"),
        drop_off_point,
        as_of,
        tickets_through,
        baseline_start,
        launch,
        end,
        known_through,
        baseline_tickets,
        current_tickets,
        series,
        population: population.len() as u64,
        learners,
        at_risk: at_risk.len() as u64,
        at_risk_reached,
        requesters_after_launch: first_after_launch.len() as u64,
        requesters_seen_before: seen_before,
        exposed,
        unexposed,
        completion_share: share(completions, learners),
        drop_off_share,
    }
}

/// One value the report gives beside the truth's.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub field: String,
    pub truth: f64,
    /// `None`: the report has no such value.
    pub report: Option<f64>,
    /// Counts must match exactly; the rest within [`RELATIVE_TOLERANCE`].
    pub exact: bool,
}

/// How far rates, person-weeks and shares may be from the truth.
pub const RELATIVE_TOLERANCE: f64 = 0.01;

impl Comparison {
    /// |report − truth| / |truth| (absolute when the truth is 0); infinite when missing.
    pub fn relative_difference(&self) -> f64 {
        match self.report {
            None => f64::INFINITY,
            Some(r) if self.truth == 0.0 => r.abs(),
            Some(r) => (r - self.truth).abs() / self.truth.abs(),
        }
    }

    pub fn agrees(&self) -> bool {
        match self.report {
            None => false,
            Some(r) if self.exact => r == self.truth,
            Some(_) => self.relative_difference() <= RELATIVE_TOLERANCE,
        }
    }
}

fn number(report: &Value, pointer: &str) -> Option<f64> {
    let value = report.pointer(pointer)?;
    value.as_f64().or_else(|| value.as_bool().map(|b| f64::from(u8::from(b))))
}

fn instant_at(report: &Value, pointer: &str) -> Option<f64> {
    report.pointer(pointer)?.as_str()?.parse::<jiff::Timestamp>().ok().map(|t| t.as_microsecond() as f64)
}

fn day_at(report: &Value, pointer: &str) -> Option<f64> {
    let text = report.pointer(pointer)?.as_str()?;
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| midnight(&d.to_string())))
        .ok()
        .map(|us| us as f64)
}

impl Truth {
    /// Every count, rate and instant the report (as `serde_json::to_value(&report)`) gives
    /// beside the truth's value.
    pub fn compare(&self, report: &Value) -> Vec<Comparison> {
        let mut out = Vec::new();
        let mut exact = |field: &str, truth: f64, report: Option<f64>| {
            out.push(Comparison { field: field.to_owned(), truth, report, exact: true })
        };
        exact(
            "window.baseline_start",
            self.baseline_start as f64,
            instant_at(report, "/window/baseline_start"),
        );
        exact("window.launch", self.launch as f64, instant_at(report, "/window/launch"));
        exact("window.end", self.end as f64, instant_at(report, "/window/end"));
        exact(
            "tickets.known_through",
            self.known_through as f64,
            instant_at(report, "/tickets/known_through"),
        );
        exact(
            "tickets.baseline_tickets",
            self.baseline_tickets as f64,
            number(report, "/tickets/baseline_tickets"),
        );
        exact(
            "tickets.current_tickets",
            self.current_tickets as f64,
            number(report, "/tickets/current_tickets"),
        );
        let counts = [
            ("reach.population", self.population),
            ("reach.learners", self.learners),
            ("reach.at_risk", self.at_risk),
            ("reach.at_risk_reached", self.at_risk_reached),
            ("reach.requesters_after_launch", self.requesters_after_launch),
            ("reach.requesters_seen_before", self.requesters_seen_before),
            ("effect.people", self.population),
            ("effect.exposed.tickets", self.exposed.tickets),
            ("effect.unexposed.tickets", self.unexposed.tickets),
        ];
        for (field, truth) in counts {
            exact(field, truth as f64, number(report, &format!("/{}", field.replace('.', "/"))));
        }
        let series = report.pointer("/tickets/series").and_then(Value::as_array).cloned().unwrap_or_default();
        exact("tickets.series.len", self.series.len() as f64, Some(series.len() as f64));
        for (i, (point, reported)) in self.series.iter().zip(&series).enumerate() {
            exact(&format!("tickets.series[{i}].start"), point.start as f64, day_at(reported, "/start"));
            exact(
                &format!("tickets.series[{i}].tickets"),
                point.tickets as f64,
                number(reported, "/tickets"),
            );
            exact(
                &format!("tickets.series[{i}].new_learners"),
                point.new_learners as f64,
                number(reported, "/new_learners"),
            );
            exact(
                &format!("tickets.series[{i}].learners"),
                point.learners as f64,
                number(reported, "/learners"),
            );
            exact(
                &format!("tickets.series[{i}].partial"),
                f64::from(u8::from(point.partial)),
                number(reported, "/partial"),
            );
        }
        let mut close = |field: &str, truth: Option<f64>, report: Option<f64>| {
            // A value the truth does not have (a rate over no person-time) must be absent
            // from the report too.
            match truth {
                Some(truth) => out.push(Comparison { field: field.to_owned(), truth, report, exact: false }),
                None => out.push(Comparison {
                    field: format!("{field} (absent)"),
                    truth: 0.0,
                    report: Some(report.map_or(0.0, |_| 1.0)),
                    exact: true,
                }),
            }
        };
        close(
            "reach.population_share",
            Some(self.population_share()),
            number(report, "/reach/population_share"),
        );
        close("reach.at_risk_share", Some(self.at_risk_share()), number(report, "/reach/at_risk_share"));
        close(
            "reach.requesters_seen_before_share",
            Some(self.requesters_seen_before_share()),
            number(report, "/reach/requesters_seen_before_share"),
        );
        close(
            "effect.exposed.person_weeks",
            Some(self.exposed.person_weeks),
            number(report, "/effect/exposed/person_weeks"),
        );
        close(
            "effect.unexposed.person_weeks",
            Some(self.unexposed.person_weeks),
            number(report, "/effect/unexposed/person_weeks"),
        );
        close("effect.exposed.rate", self.exposed.rate(), number(report, "/effect/exposed/rate"));
        close("effect.unexposed.rate", self.unexposed.rate(), number(report, "/effect/unexposed/rate"));
        // The report may withhold the ratio when there are too few tickets to measure it.
        if let (Some(truth), Some(reported)) = (self.rate_ratio(), number(report, "/effect/rate_ratio")) {
            close("effect.rate_ratio", Some(truth), Some(reported));
        }
        // Where viewers leave: a real drop-off is located to the percent, and its size is
        // the share of viewers who stop there.
        if let (Some(point), Some(stopped)) = (self.drop_off_point, self.drop_off_share)
            && stopped >= 0.1
        {
            let from = number(report, "/consumption/video/largest_drop/from");
            let to = number(report, "/consumption/video/largest_drop/to");
            let located = matches!((from, to), (Some(f), Some(t)) if f <= point + 0.011 && t >= point - 0.011 && t - f <= 0.1);
            out.push(Comparison {
                field: format!(
                    "consumption.video.largest_drop {from:?}–{to:?} holds the drop-off at {point}"
                ),
                truth: 1.0,
                report: Some(f64::from(u8::from(located))),
                exact: true,
            });
            // The drop is narrowed past end percents that lose under 1% of viewers each, so
            // it may leave out up to two such percents of the stoppers.
            let lost = number(report, "/consumption/video/largest_drop/lost");
            let close_enough = lost.is_some_and(|l| l <= stopped + 1e-9 && l >= stopped - 0.02);
            out.push(Comparison {
                field: format!("consumption.video.largest_drop.lost {lost:?} within 0.02 below {stopped}"),
                truth: 1.0,
                report: Some(f64::from(u8::from(close_enough))),
                exact: true,
            });
        }
        out
    }
}

/// What one scenario's report got right and wrong.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    pub people: u64,
    pub true_ratio: f64,
    /// The right diagnosis when the case is clear.
    pub expected: Option<&'static str>,
    pub code: String,
    /// Whether the report's ci95 contains the true ratio (none without an interval).
    pub covered: Option<bool>,
    /// The largest relative difference of any compared value.
    pub largest_difference: f64,
    pub largest_difference_field: String,
    /// The values that disagree, described.
    pub disagreements: Vec<String>,
}

impl Outcome {
    pub fn of(seed: u64, truth: &Truth, report: &Value) -> Outcome {
        let comparisons = truth.compare(report);
        let disagreements = comparisons
            .iter()
            .filter(|c| !c.agrees())
            .map(|c| format!("{}: truth {}, report {:?}", c.field, c.truth, c.report))
            .collect();
        let largest = comparisons
            .iter()
            .max_by(|a, b| a.relative_difference().total_cmp(&b.relative_difference()))
            .expect("some comparisons");
        let covered = report.pointer("/effect/ci95").and_then(Value::as_array).and_then(|ci| {
            let (low, high) = (ci.first()?.as_f64()?, ci.get(1)?.as_f64()?);
            Some(low <= truth.true_ratio && truth.true_ratio <= high)
        });
        Outcome {
            seed,
            people: truth.population,
            true_ratio: truth.true_ratio,
            expected: truth.expected_code(),
            code: report.pointer("/diagnosis/code").and_then(Value::as_str).unwrap_or("").to_owned(),
            covered,
            largest_difference: largest.relative_difference(),
            largest_difference_field: largest.field.clone(),
            disagreements,
        }
    }

    /// A clear case the report decided (anything but `not_yet_measurable`).
    pub fn decided(&self) -> bool {
        self.expected.is_some() && self.code != "not_yet_measurable"
    }

    pub fn right(&self) -> bool {
        self.expected == Some(self.code.as_str())
    }
}

/// Accuracy, coverage and agreement over many outcomes.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub scenarios: usize,
    pub clear: usize,
    pub decided: usize,
    pub right: usize,
    pub not_yet_measurable: usize,
    pub with_interval: usize,
    pub covered: usize,
    pub largest_difference: f64,
    pub largest_difference_at: String,
}

impl Summary {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            s.scenarios += 1;
            if o.expected.is_some() {
                s.clear += 1;
                if o.code == "not_yet_measurable" {
                    s.not_yet_measurable += 1;
                }
            }
            if o.decided() {
                s.decided += 1;
                s.right += usize::from(o.right());
            }
            if let Some(covered) = o.covered {
                s.with_interval += 1;
                s.covered += usize::from(covered);
            }
            if o.largest_difference > s.largest_difference || s.largest_difference_at.is_empty() {
                s.largest_difference = o.largest_difference;
                s.largest_difference_at = format!("{} (seed {})", o.largest_difference_field, o.seed);
            }
        }
        s
    }

    pub fn accuracy_decided(&self) -> f64 {
        share(self.right as u64, self.decided as u64)
    }

    pub fn accuracy_clear(&self) -> f64 {
        share(self.right as u64, self.clear as u64)
    }

    pub fn coverage(&self) -> f64 {
        share(self.covered as u64, self.with_interval as u64)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} scenarios, {} clear: {}/{} decided right ({:.1}%; {:.1}% of all clear), {} not yet measurable \
             ({:.1}% of clear); ci95 covers the true ratio in {}/{} ({:.1}%); largest difference {:.2e} at {}",
            self.scenarios,
            self.clear,
            self.right,
            self.decided,
            100.0 * self.accuracy_decided(),
            100.0 * self.accuracy_clear(),
            self.not_yet_measurable,
            100.0 * share(self.not_yet_measurable as u64, self.clear as u64),
            self.covered,
            self.with_interval,
            100.0 * self.coverage(),
            self.largest_difference,
            self.largest_difference_at,
        )
    }
}
