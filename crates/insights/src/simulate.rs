//! Seeded random scenarios for proving the goal report right: each [`Scenario`] writes the
//! files a team would feed Tally (statements, a Zendesk export, a goal) and nothing else.
//! Unlike [`crate::demo`], the generator never computes the answer: a checker that reads
//! only the written files works out what a correct report must say (see
//! `tests/simulation/truth.rs`), so the report and the truth share no code.
//!
//! The model, kept simple so every definition has one reading:
//!
//! - **People.** `people` customer users, each `mailto:first.last@customer.example`. Every
//!   one of them has an onboarding statement (`experienced` an onboarding course outside the
//!   goal's content) some time before the launch, so the store knows them all and the
//!   report's population is all `people`.
//! - **Tickets.** Each person has a propensity (0.4 for six in ten, 1.4 for three, 3.4 for
//!   one: a mean of 1, a few admins file most tickets) and files goal tickets (tag
//!   `install`) as a Poisson process in continuous time at
//!   `goal_tickets_per_person_week × propensity`, multiplied by `true_ratio` from the
//!   instant they first touch the goal's content. Other tickets (billing, SSO, …) come at
//!   `other_tickets_per_person_week`, unaffected. Tickets start two weeks before the
//!   baseline, so the baseline's start is a real boundary.
//! - **Reach.** A person is reached with probability `reach`; their first touch is an
//!   exponential time (mean [`MEAN_DAYS_TO_TOUCH`]) after launch, drawn again until it falls
//!   inside the weeks after launch, so some reached people file before they watch.
//! - **Viewing.** One viewing of one main video under [`CONTENT_PREFIX`] (xAPI Video Profile:
//!   `initialized`, then `completed` and `terminated` or only `terminated`, with progress,
//!   played segments and the video's length). Without a drop-off, `finish_share` of viewers
//!   finish and the rest stop uniformly between 5% and 85%; with a [`DropOff`], its `share`
//!   stop at its `point` (±1%) and the rest finish.
//! - **Identity traps.** `mixed_case_share` of ticket emails are written in mixed case
//!   (`Maria.Garcia@Customer.Example`); `sha1_share` of people send every statement as an
//!   `mbox_sha1sum` actor (sha1 of `mailto:` + the lowercase address), so only their tickets
//!   link them to an email; with `voided_qa`, a QA tester watches the video and all their
//!   statements are voided, and one real person's mistaken statement on the content, dated
//!   before their real first touch, is voided too.
//! - **The export.** The report date `as_of` is the last day of the weeks after launch.
//!   With `export_ends_days_early`, tickets created in the last days before it are not in
//!   the export; with `through_given`, `scenario.json` says what the export covers
//!   (`tickets_through`), else the importer takes its latest creation time.

use std::ops::RangeInclusive;
use std::path::Path;

use jiff::civil::{Date, date};
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::days::day_start;
use crate::demo::{VIDEO_ACTIVITY_TYPE, VIDEO_PROFILE, extensions, verbs};
use crate::rng::Rng;

/// The start of every content activity id (the goal's `activity_id_prefix`).
pub const CONTENT_PREFIX: &str = "https://academy.example.com/install/";
/// The one video under the goal's prefix.
pub const MAIN_VIDEO: &str = "https://academy.example.com/install/videos/01-install-the-sync-connector";
/// The onboarding course every person took (outside the goal's content).
pub const ONBOARDING: &str = "https://academy.example.com/onboarding/getting-started";
/// The goal's ticket tag.
pub const GOAL_TAG: &str = "install";
/// The mean of the days from launch to a reached person's first touch.
pub const MEAN_DAYS_TO_TOUCH: f64 = 10.0;
/// The QA tester whose statements are all voided.
pub const QA_TESTER: &str = "mailto:qa.tester@academy.example.com";
/// Who voids statements.
pub const LRS_ADMIN: &str = "mailto:lrs-admin@academy.example.com";

const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
const EXPERIENCED: &str = "http://adlnet.gov/expapi/verbs/experienced";
/// The main video's length in seconds.
const VIDEO_LENGTH: f64 = 200.0;

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SECOND;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Where most viewers who do not finish stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropOff {
    /// The share of viewers who stop there (the rest finish).
    pub share: f64,
    /// Where, as a share of the video.
    pub point: f64,
}

/// What [`Scenario::random`] draws from.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranges {
    /// How many people (drawn log-uniformly).
    pub people: RangeInclusive<u32>,
    /// The launch day.
    pub launch: RangeInclusive<Date>,
}

impl Ranges {
    /// Populations of `people`, launches in 2025 (so every report date is in the past).
    pub fn with_people(people: RangeInclusive<u32>) -> Ranges {
        Ranges { people, launch: date(2025, 1, 6)..=date(2025, 9, 29) }
    }
}

/// One launch of one piece of content, with the parameters the files are generated from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The seed: the same scenario always writes the same files.
    pub seed: u64,
    /// How many people (300..=20 000).
    pub people: u32,
    /// The day the content goes live.
    pub launch: Date,
    /// The share of people who ever touch the content after launch (0.02..=0.9).
    pub reach: f64,
    /// What a person's goal-ticket rate is multiplied by from their first touch on
    /// (0.1..=1.2).
    pub true_ratio: f64,
    /// Where viewers leave, if they do.
    pub drop_off: Option<DropOff>,
    /// Without a drop-off, the share of viewers who finish (0.65..=0.95).
    pub finish_share: f64,
    /// Days before launch that make the goal's baseline (14..=56).
    pub baseline_days: u32,
    /// Weeks after launch; the report date is their last day (4..=12).
    pub weeks_after: u32,
    /// Goal tickets per person and week before touching the content, on average
    /// (0.03..=0.3).
    pub goal_tickets_per_person_week: f64,
    /// Other tickets per person and week (0.02..=0.2).
    pub other_tickets_per_person_week: f64,
    /// The share of tickets whose requester email is written in mixed case.
    pub mixed_case_share: f64,
    /// The share of people whose statements identify them by `mbox_sha1sum`.
    pub sha1_share: f64,
    /// Whether a QA tester's statements and one person's mistaken statement are voided.
    pub voided_qa: bool,
    /// The ticket export ends this many days before the end of the report date.
    pub export_ends_days_early: Option<u32>,
    /// Whether `scenario.json` tells the importer what the export covers.
    pub through_given: bool,
}

impl Scenario {
    /// A scenario drawn from `ranges` and the parameter ranges documented on the fields.
    pub fn random(seed: u64, ranges: &Ranges) -> Scenario {
        // A stream of its own, so the parameters do not shift the data's draws.
        let mut rng = Rng(seed ^ 0x5ce7_a210_0000_0001);
        let (low, high) = (f64::from(*ranges.people.start()), f64::from(*ranges.people.end()));
        let people = (low.ln() + rng.unit() * (high.ln() - low.ln())).exp().round() as u32;
        let launch_days = (*ranges.launch.end() - *ranges.launch.start()).get_days().max(0);
        let launch = ranges
            .launch
            .start()
            .checked_add((rng.below(launch_days as usize + 1) as i64).days())
            .expect("a date within jiff's range");
        let drop_off = rng.chance(0.3).then(|| DropOff {
            share: rng.between(0.05, 0.8),
            // Away from the tenths' edges, so the report's `largest_drop_at` (a tenth) is
            // unambiguous as well as its drop located to the percent.
            point: (1 + rng.below(7)) as f64 / 10.0 + rng.between(0.03, 0.07),
        });
        Scenario {
            seed,
            people: people.clamp(*ranges.people.start(), *ranges.people.end()),
            launch,
            reach: rng.between(0.02, 0.9),
            true_ratio: rng.between(0.1, 1.2),
            drop_off,
            finish_share: rng.between(0.65, 0.95),
            baseline_days: 14 + rng.below(43) as u32,
            weeks_after: 4 + rng.below(9) as u32,
            goal_tickets_per_person_week: rng.between(0.03, 0.3),
            other_tickets_per_person_week: rng.between(0.02, 0.2),
            mixed_case_share: rng.between(0.0, 0.3),
            sha1_share: if rng.chance(0.5) { rng.between(0.0, 0.4) } else { 0.0 },
            voided_qa: rng.chance(0.5),
            export_ends_days_early: rng.chance(0.3).then(|| 1 + rng.below(14) as u32),
            through_given: rng.chance(0.5),
        }
    }

    /// The report date: the last day of the weeks after launch.
    pub fn as_of(&self) -> Date {
        self.launch
            .checked_add((7 * i64::from(self.weeks_after) - 1).days())
            .expect("a date within jiff's range")
    }

    /// Writes the files (never the answer: that is for a checker to work out from them).
    pub fn generate(&self) -> Files {
        Generator::new(self).run()
    }
}

/// What a scenario writes.
#[derive(Clone, Debug)]
pub struct Files {
    /// Valid xAPI 1.0.3 statements, one per line, in timestamp order with the voiding
    /// statements last.
    pub statements_ndjson: String,
    /// The support export as Zendesk writes it (preset `zendesk`, UTC).
    pub tickets_csv: String,
    /// The learning goal.
    pub goal_json: String,
    /// The scenario's parameters, with `as_of` and (when given) `tickets_through`.
    pub scenario_json: String,
}

impl Files {
    /// Writes `statements.ndjson`, `tickets.csv`, `goal.json` and `scenario.json` in `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("statements.ndjson"), &self.statements_ndjson)?;
        std::fs::write(dir.join("tickets.csv"), &self.tickets_csv)?;
        std::fs::write(dir.join("goal.json"), &self.goal_json)?;
        std::fs::write(dir.join("scenario.json"), &self.scenario_json)
    }

    /// The statements as store batches of at most `size` for `store`, as an LMS would have
    /// sent them (1.0.3, definitions kept). Voiding statements come in batches of their
    /// own, after the statements they void.
    pub fn batches(&self, store: store::StoreId, size: usize) -> Vec<store::StatementBatch> {
        let batch = |statements: Vec<xapi::Statement>| store::StatementBatch {
            store,
            version: xapi::Version::V1_0,
            authority: json!({ "objectType": "Agent", "mbox": "mailto:lms@academy.example.com" }),
            define: true,
            keep_stored: false,
            statements,
            attachments: vec![],
        };
        let mut batches = Vec::new();
        let (mut current, mut voiding) = (Vec::new(), false);
        for line in self.statements_ndjson.lines().filter(|l| !l.trim().is_empty()) {
            let value: Value = serde_json::from_str(line).expect("generated statements are JSON");
            let is_voiding = value["verb"]["id"] == VOIDED;
            if current.len() == size || (is_voiding && !voiding && !current.is_empty()) {
                batches.push(batch(std::mem::take(&mut current)));
            }
            voiding |= is_voiding;
            current.push(
                xapi::Statement::parse(value, xapi::Version::V1_0).expect("generated statements are valid"),
            );
        }
        if !current.is_empty() {
            batches.push(batch(current));
        }
        batches
    }
}

const FIRST_NAMES: [&str; 24] = [
    "Maria", "Tom", "Li", "Priya", "Ken", "Ana", "Jean", "Sam", "Fatima", "Lukas", "Sofia", "Markus", "Anna",
    "Jonas", "Aisha", "Diego", "Emma", "Noah", "Yuki", "Olga", "Kwame", "Ines", "Mateo", "Hannah",
];

const LAST_NAMES: [&str; 20] = [
    "Garcia", "Baker", "Wei", "Shah", "Ito", "Souza", "Martin", "Jones", "Haddad", "Weber", "Rossi",
    "Schmidt", "Klein", "Okafor", "Lopez", "Dubois", "Novak", "Tanaka", "Ivanova", "Mensah",
];

/// (tags, subject) of goal tickets; every one has the goal's tag.
const GOAL_TICKETS: [(&str, &str); 4] = [
    ("install connector windows", "Sync Connector installer stops at 'Verifying dependencies'"),
    ("install connector license_key", "Where do I enter the license key during setup?"),
    ("install connector proxy", "Install fails behind our corporate proxy"),
    ("Install connector macos", "Connector icon stays grey after installing"),
];

/// (tags, Zendesk group, subject) of other tickets.
const OTHER_TICKETS: [(&str, &str, &str); 3] = [
    ("billing invoice", "Billing", "Invoice shows the wrong VAT number"),
    ("sso login", "Accounts", "SSO login loop after certificate rotation"),
    ("reporting export", "Reporting", "CSV export cuts long descriptions, is that expected?"),
];

struct Person {
    name: String,
    email: String,
    sha1: bool,
}

struct Ticket {
    created: i64,
    person: usize,
    goal: bool,
}

struct Generator<'a> {
    scenario: &'a Scenario,
    rng: Rng,
    baseline_start: i64,
    launch: i64,
    /// The end of the report date (exclusive).
    end: i64,
    /// Where the export stops (exclusive).
    export_end: i64,
    people: Vec<Person>,
    statements: Vec<(i64, Value)>,
    voidings: Vec<(i64, Value)>,
    tickets: Vec<Ticket>,
}

fn timestamp(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).expect("generated instants are within jiff's range")
}

/// Seconds rounded to milliseconds, as a player reports them.
fn seconds(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `maria.garcia@customer.example` → `Maria.Garcia@Customer.Example`.
fn capitalised(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = matches!(c, '.' | '@');
    }
    out
}

impl<'a> Generator<'a> {
    fn new(scenario: &'a Scenario) -> Generator<'a> {
        let launch = day_start(scenario.launch);
        let end = day_start(scenario.as_of()) + DAY;
        let early = i64::from(scenario.export_ends_days_early.unwrap_or(0)) * DAY;
        Generator {
            scenario,
            rng: Rng(scenario.seed),
            baseline_start: launch - i64::from(scenario.baseline_days) * DAY,
            launch,
            end,
            export_end: end - early,
            people: Vec::new(),
            statements: Vec::new(),
            voidings: Vec::new(),
            tickets: Vec::new(),
        }
    }

    fn run(mut self) -> Files {
        let s = self.scenario;
        let mut first_touches = Vec::new();
        for i in 0..s.people as usize {
            let (f, l) = (i % FIRST_NAMES.len(), (i / FIRST_NAMES.len()) % LAST_NAMES.len());
            let round = i / (FIRST_NAMES.len() * LAST_NAMES.len());
            let suffix = if round == 0 { String::new() } else { (round + 1).to_string() };
            let (first, last) = (FIRST_NAMES[f], LAST_NAMES[l]);
            self.people.push(Person {
                name: format!("{first} {last}"),
                email: format!("{}.{}{suffix}@customer.example", first.to_lowercase(), last.to_lowercase()),
                sha1: self.rng.chance(s.sha1_share),
            });
            let propensity = *self.rng.pick(&[0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 1.4, 1.4, 1.4, 3.4]);
            self.onboard(i);
            let touch = self.rng.chance(s.reach).then(|| self.first_touch());
            if let Some(at) = touch {
                let actor = self.actor(i);
                self.watch(actor, at);
                first_touches.push((i, at));
            }
            self.file_tickets(i, propensity, touch);
        }
        if s.voided_qa {
            self.void_mistakes(&first_touches);
        }
        self.statements.sort_by_key(|(at, _)| *at);
        self.voidings.sort_by_key(|(at, _)| *at);
        let mut statements_ndjson = String::new();
        for (_, statement) in self.statements.iter().chain(&self.voidings) {
            statements_ndjson.push_str(&statement.to_string());
            statements_ndjson.push('\n');
        }
        self.tickets.sort_by_key(|t| t.created);
        let tickets_csv = self.tickets_csv();
        let goal = json!({
            "name": "Cut install tickets by 30%",
            "tickets": {"tags": [GOAL_TAG]},
            "content": {"activity_id_prefix": CONTENT_PREFIX},
            "launch_date": s.launch.to_string(),
            "baseline_days": s.baseline_days,
            "target": {"reduction_pct": 30, "by": s.as_of().to_string()},
        });
        let mut scenario = json!({
            "seed": s.seed,
            "people": s.people,
            "launch": s.launch.to_string(),
            "as_of": s.as_of().to_string(),
            "reach": s.reach,
            "true_ratio": s.true_ratio,
            "drop_off": s.drop_off.map(|d| json!({"share": d.share, "point": d.point})),
            "finish_share": s.finish_share,
            "baseline_days": s.baseline_days,
            "weeks_after": s.weeks_after,
            "goal_tickets_per_person_week": s.goal_tickets_per_person_week,
            "other_tickets_per_person_week": s.other_tickets_per_person_week,
            "mixed_case_share": s.mixed_case_share,
            "sha1_share": s.sha1_share,
            "voided_qa": s.voided_qa,
            "export_ends_days_early": s.export_ends_days_early,
            "through_given": s.through_given,
        });
        if s.through_given {
            // What the export covers: everything created up to its last microsecond.
            scenario["tickets_through"] = Value::String(timestamp(self.export_end - 1).to_string());
        }
        Files {
            statements_ndjson,
            tickets_csv,
            goal_json: serde_json::to_string_pretty(&goal).expect("JSON"),
            scenario_json: serde_json::to_string_pretty(&scenario).expect("JSON"),
        }
    }

    /// A reached person's first touch: an exponential time after launch, inside the weeks
    /// after it.
    fn first_touch(&mut self) -> i64 {
        let window = (self.end - self.launch) as f64;
        loop {
            let after = self.rng.exponential(MEAN_DAYS_TO_TOUCH * DAY as f64);
            if after < window {
                return self.launch + after as i64;
            }
        }
    }

    fn actor(&self, person: usize) -> Value {
        let person = &self.people[person];
        let mbox = format!("mailto:{}", person.email);
        if person.sha1 {
            json!({"objectType": "Agent", "name": person.name, "mbox_sha1sum": sha1_hex(&mbox)})
        } else {
            json!({"objectType": "Agent", "name": person.name, "mbox": mbox})
        }
    }

    fn push(&mut self, at: i64, mut statement: Value) -> String {
        let id = self.rng.uuid();
        statement["id"] = Value::String(id.clone());
        statement["timestamp"] = Value::String(timestamp(at).to_string());
        self.statements.push((at, statement));
        id
    }

    /// Voids the statement `target` a day after `at`, as an LRS admin does.
    fn void(&mut self, target: &str, at: i64) {
        let statement = json!({
            "id": self.rng.uuid(),
            "timestamp": timestamp(at + DAY).to_string(),
            "actor": {"objectType": "Agent", "name": "LRS admin", "mbox": LRS_ADMIN},
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target},
        });
        self.voidings.push((at + DAY, statement));
    }

    /// The onboarding course, some time in the 30 days before the baseline or during it.
    fn onboard(&mut self, person: usize) {
        let from = self.baseline_start - 30 * DAY;
        let at = from + (self.rng.unit() * (self.launch - HOUR - from) as f64) as i64;
        let statement = json!({
            "actor": self.actor(person),
            "verb": {"id": EXPERIENCED, "display": {"en-US": "experienced"}},
            "object": {
                "objectType": "Activity",
                "id": ONBOARDING,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"en-US": "Getting started with the Sync platform"},
                },
            },
        });
        self.push(at, statement);
    }

    /// How far a viewer gets into the main video.
    fn progress(&mut self) -> f64 {
        match self.scenario.drop_off {
            Some(DropOff { share, point }) if self.rng.chance(share) => point + self.rng.between(-0.01, 0.01),
            Some(_) => 1.0,
            None if self.rng.chance(self.scenario.finish_share) => 1.0,
            None => self.rng.between(0.05, 0.85),
        }
    }

    /// One viewing of the main video from `start`: `initialized`, then `completed` and
    /// `terminated` for viewers who finish, only `terminated` for the others. Returns the
    /// id of the first statement.
    fn watch(&mut self, actor: Value, start: i64) -> String {
        let progress = self.progress();
        let session = self.rng.uuid();
        let object = json!({
            "objectType": "Activity",
            "id": MAIN_VIDEO,
            "definition": {
                "type": VIDEO_ACTIVITY_TYPE,
                "name": {"en-US": "Install the Sync Connector"},
            },
        });
        let context = json!({
            "contextActivities": {"category": [{
                "id": VIDEO_PROFILE,
                "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
            }]},
            "extensions": {extensions::LENGTH: VIDEO_LENGTH, extensions::SESSION_ID: session},
        });
        let statement = |verb: &str, display: &str, result: Option<Value>| {
            let mut s = json!({
                "actor": actor,
                "verb": {"id": verb, "display": {"en-US": display}},
                "object": object,
                "context": context,
            });
            if let Some(result) = result {
                s["result"] = result;
            }
            s
        };
        let stop = seconds(VIDEO_LENGTH * progress);
        let progress = seconds(stop / VIDEO_LENGTH);
        let at_stop = json!({"extensions": {
            extensions::TIME: stop,
            extensions::PROGRESS: progress,
            extensions::PLAYED_SEGMENTS: format!("0[.]{stop}"),
        }});
        let first = self.push(start, statement(verbs::INITIALIZED, "initialized", None));
        let mut now = start + 2 * SECOND + (stop * SECOND as f64) as i64;
        if progress >= 1.0 {
            let mut result = at_stop.clone();
            result["completion"] = Value::Bool(true);
            self.push(now, statement(verbs::COMPLETED, "completed", Some(result)));
        }
        now += SECOND;
        self.push(now, statement(verbs::TERMINATED, "terminated", Some(at_stop)));
        first
    }

    /// The QA tester's viewing and one real person's mistaken early statement, both voided.
    fn void_mistakes(&mut self, first_touches: &[(usize, i64)]) {
        let qa = json!({"objectType": "Agent", "name": "QA tester", "mbox": QA_TESTER});
        let at = self.launch + HOUR + (self.rng.unit() * 3.0 * DAY as f64) as i64;
        let before = self.statements.len();
        self.watch(qa, at);
        let ids: Vec<(String, i64)> = self.statements[before..]
            .iter()
            .map(|(at, s)| (s["id"].as_str().expect("an id").to_owned(), *at))
            .collect();
        for (id, at) in ids {
            self.void(&id, at);
        }
        // The reached person who touched the content last, so the mistake falls well before
        // the real first touch and, voided or not, would move it.
        if let Some(&(person, touch)) = first_touches.iter().max_by_key(|(_, at)| *at)
            && touch > self.launch + HOUR
        {
            let at = self.launch + (self.rng.unit() * (touch - self.launch) as f64) as i64;
            let statement = json!({
                "actor": self.actor(person),
                "verb": {"id": verbs::INITIALIZED, "display": {"en-US": "initialized"}},
                "object": {"objectType": "Activity", "id": MAIN_VIDEO},
            });
            let id = self.push(at, statement);
            self.void(&id, at);
        }
    }

    /// Goal tickets as a Poisson process whose rate changes at the first touch (exponential
    /// gaps are memoryless, so drawing anew from the touch is exact), other tickets at a
    /// constant rate. Only those the export covers are kept.
    fn file_tickets(&mut self, person: usize, propensity: f64, touch: Option<i64>) {
        let s = self.scenario;
        let start = self.baseline_start - 14 * DAY;
        let base = s.goal_tickets_per_person_week * propensity;
        let change = touch.unwrap_or(self.end).min(self.end);
        let mut pieces = vec![(start, change, base)];
        if change < self.end {
            pieces.push((change, self.end, base * s.true_ratio));
        }
        for (from, to, weekly) in pieces {
            self.arrivals(person, from, to, weekly, true);
        }
        self.arrivals(person, start, self.end, s.other_tickets_per_person_week, false);
    }

    fn arrivals(&mut self, person: usize, from: i64, to: i64, weekly: f64, goal: bool) {
        if weekly <= 0.0 {
            return;
        }
        let mean_gap = WEEK as f64 / weekly;
        let mut at = from as f64;
        loop {
            at += self.rng.exponential(mean_gap);
            if at >= to as f64 {
                return;
            }
            let created = at as i64;
            if created < self.export_end {
                self.tickets.push(Ticket { created, person, goal });
            }
        }
    }

    fn tickets_csv(&mut self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let header = [
            "Id",
            "Created at",
            "Solved at",
            "Status",
            "Tags",
            "Requester email",
            "Ticket type",
            "Subject",
            "Group",
        ];
        writer.write_record(header).expect("writing to memory");
        let format = |us: i64| timestamp(us).strftime("%Y-%m-%d %H:%M:%S").to_string();
        for (i, ticket) in self.tickets.iter().enumerate() {
            let rng = &mut self.rng;
            let solved = ticket.created + (rng.exponential(20.0) * HOUR as f64) as i64 + 10 * 60 * SECOND;
            let (status, solved_at) = if solved >= self.export_end {
                (*rng.pick(&["Open", "Pending"]), String::new())
            } else {
                ("Solved", format(solved))
            };
            let (tags, group, subject) = if ticket.goal {
                let (tags, subject) = *rng.pick(&GOAL_TICKETS);
                (tags, "Installation Support", subject)
            } else {
                *rng.pick(&OTHER_TICKETS)
            };
            let email = &self.people[ticket.person].email;
            // Helpdesks keep the address as people typed it.
            let email =
                if rng.chance(self.scenario.mixed_case_share) { capitalised(email) } else { email.clone() };
            let id = (100_001 + i).to_string();
            let created = format(ticket.created);
            let record =
                [id.as_str(), &created, &solved_at, status, tags, &email, "Incident", subject, group];
            writer.write_record(record).expect("writing to memory");
        }
        String::from_utf8(writer.into_inner().expect("writing to memory")).expect("the CSV is UTF-8")
    }
}
