//! A deterministic demo data set for the case Tally is built for, with a known right answer.
//!
//! A SaaS company ships the Sync Connector module and install tickets flood support. On the
//! launch day the training team publishes three short install videos, updates the support
//! chatbot to point at them, and adds a one-question survey after the main video. The goal:
//! install tickets down 30% within eight weeks. A [`Scenario`] says how that goes (how many
//! people watch, how far, and whether watching changes their ticket rate);
//! [`Scenario::generate`] makes the statements the video player, the chatbot and the survey
//! would have sent, the Zendesk export support would download, and the goal, plus the
//! [`Truth`] a correct report must find in them.
//!
//! One population of people both learns and files tickets, and every one of them registered
//! with the customer academy before the baseline (so the store knows them all): actors are
//! `mailto:first.last@customer.example`, and the tickets' `Requester email` is the same
//! address (about one in ten written in mixed case, `Maria.Garcia@Customer.Example`, as
//! helpdesks keep what people typed).
//!
//! Vocabulary, so a consumer can tell the kinds of content apart by `object.definition.type`:
//! - video: [`VIDEO_ACTIVITY_TYPE`], statements per the xAPI Video Profile
//!   (<https://w3id.org/xapi/video>): `initialized`, `completed` and `terminated` are the ADL
//!   verbs, `played`, `paused` and `seeked` the profile's own; result extensions `time`,
//!   `progress`, `played-segments` (and `time-from`/`time-to` on `seeked`), context
//!   extensions `length` and `session-id`, and the profile as a `category` context activity;
//! - chatbot: [`CHATBOT_ACTIVITY_TYPE`] (`chat-channel` from the xAPI vocabulary registry: a
//!   conversation channel; there is no standard chatbot type), verb `asked`, the question in
//!   `result.response`, whether the answer helped in `result.success`, the bot's version in
//!   `context.revision`, and after the update the video it recommended in
//!   `context.contextActivities.other`;
//! - survey: [`SURVEY_ACTIVITY_TYPE`] (`cmi.interaction`, `interactionType` `likert`), verb
//!   `answered`, the chosen scale id in `result.response` and the same as
//!   `result.score` (`raw` 1–5, `scaled` (raw − 1) / 4), the video asked about in
//!   `context.contextActivities.other`.
//!
//! Every content activity id starts with [`CONTENT_PREFIX`].
//!
//! The model behind the numbers, kept simple so the answer is unambiguous: install tickets
//! arrive at a constant rate per person before launch (no natural decline, so any drop is the
//! content's doing), weighted by a per-person propensity (a few admins file most tickets)
//! and lighter at weekends; a person who watched at least 90% of the main video files
//! install tickets at `viewer_ticket_factor` times their rate from then on. Other tickets
//! (billing, SSO, reporting) keep their rate throughout.

use jiff::civil::{Date, date};
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::days::day_start;
use crate::rng::Rng;

/// `object.definition.type` of a video (xAPI Video Profile).
pub const VIDEO_ACTIVITY_TYPE: &str = "https://w3id.org/xapi/video/activity-type/video";
/// The xAPI Video Profile, given as a `category` context activity of video statements.
pub const VIDEO_PROFILE: &str = "https://w3id.org/xapi/video";
/// `object.definition.type` of a chatbot conversation.
pub const CHATBOT_ACTIVITY_TYPE: &str = "http://id.tincanapi.com/activitytype/chat-channel";
/// `object.definition.type` of a survey question.
pub const SURVEY_ACTIVITY_TYPE: &str = "http://adlnet.gov/expapi/activities/cmi.interaction";
/// The start of every content activity id of the demo (the goal's `activity_id_prefix`).
pub const CONTENT_PREFIX: &str = "https://academy.example.com/install/";
/// The main install video, the one whose completion changes ticket rates.
pub const MAIN_VIDEO: &str = "https://academy.example.com/install/videos/01-install-the-sync-connector";

/// The verbs the demo uses.
pub mod verbs {
    pub const INITIALIZED: &str = "http://adlnet.gov/expapi/verbs/initialized";
    pub const PLAYED: &str = "https://w3id.org/xapi/video/verbs/played";
    pub const PAUSED: &str = "https://w3id.org/xapi/video/verbs/paused";
    pub const SEEKED: &str = "https://w3id.org/xapi/video/verbs/seeked";
    pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
    pub const TERMINATED: &str = "http://adlnet.gov/expapi/verbs/terminated";
    pub const ASKED: &str = "http://adlnet.gov/expapi/verbs/asked";
    pub const ANSWERED: &str = "http://adlnet.gov/expapi/verbs/answered";
    pub const REGISTERED: &str = "http://adlnet.gov/expapi/verbs/registered";
}

/// The xAPI Video Profile extensions.
pub mod extensions {
    /// Result: the playhead position in seconds.
    pub const TIME: &str = "https://w3id.org/xapi/video/extensions/time";
    /// Result: the share of the video played, 0–1 (the union of played segments).
    pub const PROGRESS: &str = "https://w3id.org/xapi/video/extensions/progress";
    /// Result: the played segments, `start[.]end` joined by `[,]` (seconds).
    pub const PLAYED_SEGMENTS: &str = "https://w3id.org/xapi/video/extensions/played-segments";
    /// Result of `seeked`: where the playhead was and where it went.
    pub const TIME_FROM: &str = "https://w3id.org/xapi/video/extensions/time-from";
    pub const TIME_TO: &str = "https://w3id.org/xapi/video/extensions/time-to";
    /// Context: the video's length in seconds.
    pub const LENGTH: &str = "https://w3id.org/xapi/video/extensions/length";
    /// Context: one id per viewing session.
    pub const SESSION_ID: &str = "https://w3id.org/xapi/video/extensions/session-id";
}

/// Watching at least this share of the main video is what changes a person's ticket rate.
pub const EFFECTIVE_PROGRESS: f64 = 0.9;

/// How the launch goes. The presets are the four stories the report must tell apart.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `working`, `low-reach`, `drop-off` or `no-effect` for the presets.
    pub name: String,
    /// The seed of the generator: the same scenario always gives the same data.
    pub seed: u64,
    /// The day the videos, the chatbot update and the survey go live.
    pub launch: Date,
    /// Weeks of tickets before the launch (the baseline is the last 28 days of them).
    pub weeks_before: u32,
    /// Weeks after the launch; the goal's target date is the end of them.
    pub weeks_after: u32,
    /// How many people (customer users who install, learn and file tickets).
    pub people: u32,
    /// The share of people who start the main video after launch.
    pub reach: f64,
    /// The share of viewers who watch to the end.
    pub completion_share: f64,
    /// Where the viewers who do not finish stop (share of the video), or `None` for
    /// anywhere between 5% and 85%.
    pub drop_off_point: Option<f64>,
    /// Install tickets per person and week before launch, on average.
    pub install_tickets_per_person_week: f64,
    /// A person's install-ticket rate after watching at least [`EFFECTIVE_PROGRESS`] of the
    /// main video, relative to before (0.2: a fifth).
    pub viewer_ticket_factor: f64,
    /// Other tickets (billing, SSO, reporting) per person and week, unaffected.
    pub other_tickets_per_person_week: f64,
    /// Chatbot conversations about installing per person and week.
    pub chatbot_conversations_per_person_week: f64,
    /// The share of main-video viewers who answer the survey.
    pub survey_response_share: f64,
}

impl Scenario {
    /// The content works: 70% of people watch, most to the end, and those who do file a
    /// fifth of the install tickets they did; install tickets drop by well over 30%.
    pub fn working() -> Scenario {
        Scenario {
            name: "working".into(),
            seed: 20250303,
            launch: date(2025, 3, 3),
            weeks_before: 4,
            weeks_after: 8,
            people: 400,
            reach: 0.7,
            completion_share: 0.85,
            drop_off_point: None,
            install_tickets_per_person_week: 0.12,
            viewer_ticket_factor: 0.2,
            other_tickets_per_person_week: 0.05,
            chatbot_conversations_per_person_week: 0.03,
            survey_response_share: 0.5,
        }
    }

    /// The content works for those who see it, but few do (8% of people): the people who
    /// file tickets mostly never saw it, and tickets barely move. The fix is promotion.
    pub fn low_reach() -> Scenario {
        Scenario { name: "low-reach".into(), seed: 20250304, reach: 0.08, ..Scenario::working() }
    }

    /// Most viewers stop at `point` (a share of the video; 0.4 is where the license step
    /// starts) and only one in ten finishes; tickets do not drop. The fix is the content.
    pub fn drop_off_at(point: f64) -> Scenario {
        Scenario {
            name: "drop-off".into(),
            seed: 20250305,
            completion_share: 0.1,
            drop_off_point: Some(point.clamp(0.05, 0.95)),
            ..Scenario::working()
        }
    }

    /// People watch, to the end, and like it, but file install tickets as often as those
    /// who did not watch: the content does not address what the tickets are about.
    pub fn no_effect() -> Scenario {
        Scenario {
            name: "no-effect".into(),
            seed: 20250306,
            viewer_ticket_factor: 1.0,
            ..Scenario::working()
        }
    }

    /// The four presets (`drop-off` at 40%).
    pub fn presets() -> [Scenario; 4] {
        [Scenario::working(), Scenario::low_reach(), Scenario::drop_off_at(0.4), Scenario::no_effect()]
    }

    /// A preset by name: `working`, `low-reach`, `drop-off` (at 40%), `no-effect`
    /// (underscores work too).
    pub fn named(name: &str) -> Option<Scenario> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        Scenario::presets().into_iter().find(|s| s.name == name)
    }

    /// The goal's target date: the end of the weeks after launch.
    pub fn target_date(&self) -> Date {
        self.launch.checked_add((7 * i64::from(self.weeks_after)).days()).expect("a date within jiff's range")
    }

    /// Generates the data set.
    pub fn generate(&self) -> DemoData {
        Generator::new(self).run()
    }
}

/// What a scenario produced.
#[derive(Clone, Debug)]
pub struct DemoData {
    pub scenario: Scenario,
    /// Valid xAPI 1.0.3 statements (ids and timestamps set), in timestamp order.
    pub statements: Vec<Value>,
    /// The support export, as Zendesk writes it (preset `zendesk`, UTC).
    pub tickets_csv: String,
    /// The learning goal: `{"name", "tickets": {"tags"}, "content": {"activity_id_prefix"},
    /// "launch_date", "baseline_days", "target": {"reduction_pct", "by"}}`.
    pub goal: Value,
    /// The answer a correct report gives, counted from the generated data itself.
    pub truth: Truth,
}

impl DemoData {
    /// The statements as store batches of `size`, as an LMS would have sent them (1.0.3,
    /// definitions kept), for loading the data straight into a store.
    pub fn batches(&self, size: usize) -> impl Iterator<Item = store::StatementBatch> + '_ {
        self.statements.chunks(size).map(|chunk| store::StatementBatch {
            store: store::DEFAULT_STORE,
            version: xapi::Version::V1_0,
            authority: json!({ "objectType": "Agent", "mbox": "mailto:lms@academy.example.com" }),
            define: true,
            keep_stored: false,
            statements: chunk
                .iter()
                .map(|s| {
                    xapi::Statement::parse(s.clone(), xapi::Version::V1_0)
                        .expect("generated statements are valid")
                })
                .collect(),
            attachments: vec![],
        })
    }
}

/// The right answer for a generated data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    /// Install tickets (tag `install`) opened in the 28 days before launch.
    pub baseline_install_tickets: u32,
    /// Install tickets opened in the last 28 days before the target date.
    pub final_install_tickets: u32,
    /// `100 × (1 − final / baseline)`.
    pub reduction_pct: f64,
    /// People who started the main video.
    pub viewers: u32,
    /// People who watched at least [`EFFECTIVE_PROGRESS`] of it.
    pub completers: u32,
    /// The median of viewers' progress on the main video.
    pub median_progress: f64,
    /// People who opened at least one install ticket after launch.
    pub requesters_after_launch: u32,
    /// The share of those (percent) who ever started the main video.
    pub requesters_reached_pct: f64,
    /// Install tickets per person and week of viewers, counted from their first view.
    pub viewer_ticket_rate: f64,
    /// Install tickets per person and week, after launch, of people who never watched.
    pub non_viewer_ticket_rate: f64,
    /// How many survey answers, and their mean on the 1–5 scale.
    pub survey_answers: u32,
    pub survey_mean: f64,
}

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SECOND;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

struct Video {
    id: &'static str,
    title: &'static str,
    description: &'static str,
    /// Seconds.
    length: f64,
}

const VIDEOS: [Video; 3] = [
    Video {
        id: MAIN_VIDEO,
        title: "Install the Sync Connector in three minutes",
        description: "Download, run the installer, enter your license key and check the connection.",
        length: 184.0,
    },
    Video {
        id: "https://academy.example.com/install/videos/02-activate-your-license",
        title: "Activate your Sync Connector license",
        description: "Where the license key goes and what to do when activation fails.",
        length: 96.0,
    },
    Video {
        id: "https://academy.example.com/install/videos/03-install-behind-a-proxy",
        title: "Install the Sync Connector behind a proxy",
        description: "Proxy settings for the installer and the agent service.",
        length: 131.0,
    },
];

const CHATBOT: &str = "https://academy.example.com/install/chatbot/install-help";
/// The academy every customer user registers with (outside the goal's content).
const ACADEMY: &str = "https://academy.example.com/customer-academy";
const SURVEY: &str = "https://academy.example.com/install/survey/did-the-video-help";

const FIRST_NAMES: [&str; 40] = [
    "Maria", "Tom", "Li", "Priya", "Ken", "Ana", "Jean", "Sam", "Fatima", "Lukas", "Sofia", "Markus", "Anna",
    "Jonas", "Aisha", "Diego", "Emma", "Noah", "Yuki", "Olga", "Kwame", "Ines", "Mateo", "Hannah", "Ravi",
    "Chloe", "Omar", "Lena", "Pedro", "Zoe", "Arjun", "Mia", "Tariq", "Elena", "Felix", "Nora", "Hugo",
    "Sara", "Jin", "Grace",
];

const LAST_NAMES: [&str; 30] = [
    "Garcia", "Baker", "Wei", "Shah", "Ito", "Souza", "Martin", "Jones", "Haddad", "Weber", "Rossi",
    "Schmidt", "Klein", "Okafor", "Lopez", "Dubois", "Novak", "Tanaka", "Ivanova", "Mensah", "Silva",
    "Fischer", "Patel", "Nguyen", "Kim", "Murphy", "Larsen", "Costa", "Moreau", "Berg",
];

/// (tag beyond `install connector`, subject) of install tickets.
const INSTALL_TICKETS: [(&str, &str); 10] = [
    ("windows", "Sync Connector installer stops at 'Verifying dependencies'"),
    ("license_key", "Where do I enter the license key during setup?"),
    ("windows", "Connector service won't start after install (error 1053)"),
    ("proxy", "Install fails behind our corporate proxy"),
    ("windows", "Installer says .NET 4.8 is missing, but it is installed"),
    ("macos", "Connector icon stays grey after installing"),
    ("windows", "Silent install ignores the SERVER parameter"),
    ("proxy", "Which ports does the connector need? Install is blocked"),
    ("linux", "RPM install conflicts with openssl-libs"),
    ("license_key", "License activation fails with 'key already in use'"),
];

/// (tags, Zendesk group, subject) of other tickets.
const OTHER_TICKETS: [(&str, &str, &str); 5] = [
    ("billing invoice", "Billing", "Invoice shows the wrong VAT number"),
    ("sso login", "Accounts", "SSO login loop after certificate rotation"),
    ("reporting export", "Reporting", "CSV export cuts long descriptions, is that expected?"),
    ("api rate_limit", "Integrations", "API returns 429 during the nightly sync"),
    ("billing plan", "Billing", "How do we switch to annual billing?"),
];

const CHATBOT_QUESTIONS: [&str; 6] = [
    "how do I install the sync connector",
    "installer stuck at verifying dependencies",
    "where does the license key go",
    "connector install behind proxy",
    "connector service does not start",
    "what ports does the connector need",
];

struct Person {
    name: String,
    email: String,
    /// How many install tickets this person files relative to the average.
    propensity: f64,
    /// When they started the main video and how far they got.
    main_view: Option<(i64, f64)>,
}

struct GeneratedTicket {
    created: i64,
    person: usize,
    install: bool,
    kind: usize,
}

struct Generator<'a> {
    scenario: &'a Scenario,
    rng: Rng,
    start: i64,
    launch: i64,
    end: i64,
    people: Vec<Person>,
    statements: Vec<(i64, Value)>,
    tickets: Vec<GeneratedTicket>,
    survey: Vec<u32>,
}

fn timestamp(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).expect("demo instants are within jiff's range")
}

/// Seconds rounded to milliseconds, as a player reports them.
fn seconds(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn segments(parts: &[(f64, f64)]) -> String {
    parts.iter().map(|(a, b)| format!("{}[.]{}", seconds(*a), seconds(*b))).collect::<Vec<_>>().join("[,]")
}

impl<'a> Generator<'a> {
    fn new(scenario: &'a Scenario) -> Generator<'a> {
        let launch = day_start(scenario.launch);
        Generator {
            scenario,
            rng: Rng(scenario.seed),
            start: launch - i64::from(scenario.weeks_before) * WEEK,
            launch,
            end: launch + i64::from(scenario.weeks_after) * WEEK,
            people: Vec::new(),
            statements: Vec::new(),
            tickets: Vec::new(),
            survey: Vec::new(),
        }
    }

    fn run(mut self) -> DemoData {
        self.make_people();
        for person in 0..self.people.len() {
            self.join_the_academy(person);
            self.watch(person);
            self.chat(person);
        }
        for person in 0..self.people.len() {
            self.file_tickets(person);
        }
        self.tickets.sort_by_key(|t| t.created);
        self.statements.sort_by_key(|(at, _)| *at);
        let tickets_csv = self.tickets_csv();
        let truth = self.truth();
        let scenario = self.scenario.clone();
        let goal = json!({
            "name": "Cut Sync Connector install tickets by 30%",
            "tickets": {"tags": ["install"]},
            "content": {"activity_id_prefix": CONTENT_PREFIX},
            "launch_date": scenario.launch.to_string(),
            "baseline_days": 28,
            "target": {"reduction_pct": 30, "by": scenario.target_date().to_string()},
        });
        DemoData {
            statements: self.statements.into_iter().map(|(_, s)| s).collect(),
            tickets_csv,
            goal,
            truth,
            scenario,
        }
    }

    fn make_people(&mut self) {
        let mut pairs: Vec<(usize, usize)> =
            (0..FIRST_NAMES.len()).flat_map(|f| (0..LAST_NAMES.len()).map(move |l| (f, l))).collect();
        for i in (1..pairs.len()).rev() {
            let j = self.rng.below(i + 1);
            pairs.swap(i, j);
        }
        for i in 0..self.scenario.people as usize {
            let (f, l) = pairs[i % pairs.len()];
            let round = i / pairs.len();
            let suffix = if round == 0 { String::new() } else { (round + 1).to_string() };
            let (first, last) = (FIRST_NAMES[f], LAST_NAMES[l]);
            // Most people file a ticket now and then; a few admins file most of them.
            let propensity = *self.rng.pick(&[0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 1.4, 1.4, 1.4, 3.4]);
            self.people.push(Person {
                name: format!("{first} {last}"),
                email: format!("{}.{}{suffix}@customer.example", first.to_lowercase(), last.to_lowercase()),
                propensity,
                main_view: None,
            });
        }
    }

    /// How far a viewer gets into a video.
    fn progress(&mut self) -> f64 {
        if self.rng.chance(self.scenario.completion_share) {
            return 1.0;
        }
        match self.scenario.drop_off_point {
            Some(point) => (point + self.rng.between(-0.04, 0.04)).clamp(0.02, 0.89),
            None => self.rng.between(0.05, 0.85),
        }
    }

    /// A moment during working hours on the day `day_start` begins.
    fn working_hours(&mut self, day_start: i64) -> i64 {
        day_start + 7 * HOUR + (self.rng.unit() * 11.0 * HOUR as f64) as i64
    }

    fn watch(&mut self, person: usize) {
        if !self.rng.chance(self.scenario.reach) {
            return;
        }
        // Most viewers come in the first weeks after launch.
        let days_after = (self.rng.exponential(6.0) as i64).min(i64::from(self.scenario.weeks_after) * 7 - 1);
        let at = self.working_hours(self.launch + days_after * DAY);
        let progress = self.progress();
        self.people[person].main_view = Some((at, progress));
        let session_end = self.video_session(person, 0, at, progress);
        if self.rng.chance(self.scenario.survey_response_share) {
            self.answer_survey(person, session_end + 20 * SECOND, progress);
        }
        for (video, share) in [(1, 0.4), (2, 0.2)] {
            if self.rng.chance(share) {
                let later = at + (self.rng.between(0.1, 6.0) * DAY as f64) as i64;
                if later < self.end {
                    let progress = self.progress();
                    self.video_session(person, video, later, progress);
                }
            }
        }
    }

    /// Every customer user gets an academy account before the baseline (the LMS sends a
    /// `registered` statement), so the store knows the people who never file a ticket or
    /// watch anything too: the report's population is everyone the store knows.
    fn join_the_academy(&mut self, person: usize) {
        let days_before = 7 + self.rng.below(60) as i64;
        let at = self.working_hours(self.start - days_before * DAY);
        let statement = json!({
            "actor": self.actor(person),
            "verb": {"id": verbs::REGISTERED, "display": {"en-US": "registered"}},
            "object": {
                "objectType": "Activity",
                "id": ACADEMY,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"en-US": "Customer Academy"},
                },
            },
        });
        self.push(at, statement);
    }

    fn actor(&self, person: usize) -> Value {
        let person = &self.people[person];
        json!({"objectType": "Agent", "name": person.name, "mbox": format!("mailto:{}", person.email)})
    }

    fn push(&mut self, at: i64, mut statement: Value) {
        statement["id"] = Value::String(self.rng.uuid());
        statement["timestamp"] = Value::String(timestamp(at).to_string());
        self.statements.push((at, statement));
    }

    /// One viewing of `video` from its start to `progress` of it; returns when it ended.
    fn video_session(&mut self, person: usize, video: usize, start: i64, progress: f64) -> i64 {
        let Video { id, title, description, length } = VIDEOS[video];
        let session = self.rng.uuid();
        let actor = self.actor(person);
        let object = json!({
            "objectType": "Activity",
            "id": id,
            "definition": {
                "type": VIDEO_ACTIVITY_TYPE,
                "name": {"en-US": title},
                "description": {"en-US": description},
            },
        });
        let context = json!({
            "contextActivities": {"category": [{
                "id": VIDEO_PROFILE,
                "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
            }]},
            "extensions": {extensions::LENGTH: length, extensions::SESSION_ID: session},
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
        let stop = seconds(length * progress);
        let mut now = start;
        self.push(now, statement(verbs::INITIALIZED, "initialized", None));
        now += 2 * SECOND;
        self.push(
            now,
            statement(verbs::PLAYED, "played", Some(json!({"extensions": {extensions::TIME: 0.0}}))),
        );
        // Some viewers who get past the middle rewind once to watch a step again.
        let mut parts = Vec::new();
        let mut position = 0.0;
        if progress > 0.6 && self.rng.chance(0.3) {
            let (from, to) = (seconds(length * 0.5), seconds(length * self.rng.between(0.25, 0.4)));
            now += (from * SECOND as f64) as i64;
            parts.push((0.0, from));
            let result = json!({"extensions": {extensions::TIME_FROM: from, extensions::TIME_TO: to}});
            self.push(now, statement(verbs::SEEKED, "seeked", Some(result)));
            now += SECOND;
            self.push(
                now,
                statement(verbs::PLAYED, "played", Some(json!({"extensions": {extensions::TIME: to}}))),
            );
            position = to;
        }
        now += ((stop - position) * SECOND as f64) as i64;
        parts.push((position, stop));
        let played = segments(&parts);
        let progress = seconds(stop / length);
        let at_stop = |time: f64| {
            json!({"extensions": {
                extensions::TIME: time,
                extensions::PROGRESS: progress,
                extensions::PLAYED_SEGMENTS: played,
            }})
        };
        if progress >= 1.0 {
            let mut result = at_stop(length);
            result["completion"] = Value::Bool(true);
            result["duration"] = Value::String(format!("PT{}S", (now - start) / SECOND));
            self.push(now, statement(verbs::COMPLETED, "completed", Some(result)));
        } else {
            self.push(now, statement(verbs::PAUSED, "paused", Some(at_stop(stop))));
            now += (self.rng.between(5.0, 90.0) * SECOND as f64) as i64;
        }
        now += SECOND;
        self.push(now, statement(verbs::TERMINATED, "terminated", Some(at_stop(stop))));
        now
    }

    fn answer_survey(&mut self, person: usize, at: i64, progress: f64) {
        // People who stopped early found it less helpful; in `no-effect` people like the
        // video as much as in `working`: satisfaction is not impact.
        let high = if progress >= EFFECTIVE_PROGRESS { 0.8 } else { 0.2 };
        let raw: u32 = if self.rng.chance(high) {
            4 + u32::from(self.rng.chance(0.5))
        } else {
            2 + u32::from(self.rng.chance(0.5))
        };
        self.survey.push(raw);
        let labels = ["Not at all", "A little", "Somewhat", "A lot", "It solved my problem"];
        let scale: Vec<Value> = labels
            .iter()
            .enumerate()
            .map(|(i, label)| json!({"id": format!("likert_{}", i + 1), "description": {"en-US": label}}))
            .collect();
        let statement = json!({
            "actor": self.actor(person),
            "verb": {"id": verbs::ANSWERED, "display": {"en-US": "answered"}},
            "object": {
                "objectType": "Activity",
                "id": SURVEY,
                "definition": {
                    "type": SURVEY_ACTIVITY_TYPE,
                    "interactionType": "likert",
                    "name": {"en-US": "Did the install video help?"},
                    "description": {"en-US": "How much did the install video help you install the Sync Connector?"},
                    "scale": scale,
                },
            },
            "result": {
                "response": format!("likert_{raw}"),
                "score": {"raw": raw, "min": 1, "max": 5, "scaled": f64::from(raw - 1) / 4.0},
            },
            "context": {"contextActivities": {"other": [{"objectType": "Activity", "id": MAIN_VIDEO}]}},
        });
        self.push(at, statement);
    }

    fn chat(&mut self, person: usize) {
        let per_day = self.scenario.chatbot_conversations_per_person_week / 7.0;
        let mut day = self.start;
        while day < self.end {
            if self.rng.chance(per_day) {
                let at = self.working_hours(day);
                let updated = at >= self.launch;
                // The old bot answered install questions with a link to a long PDF; the
                // updated one points to the video.
                let success = self.rng.chance(if updated { 0.7 } else { 0.3 });
                let question = *self.rng.pick(&CHATBOT_QUESTIONS);
                let mut context = json!({
                    "platform": "Support assistant",
                    "revision": if updated { "2025.03-install-videos" } else { "2024.11" },
                    "registration": self.rng.uuid(),
                });
                if updated {
                    context["contextActivities"] =
                        json!({"other": [{"objectType": "Activity", "id": MAIN_VIDEO}]});
                }
                let statement = json!({
                    "actor": self.actor(person),
                    "verb": {"id": verbs::ASKED, "display": {"en-US": "asked"}},
                    "object": {
                        "objectType": "Activity",
                        "id": CHATBOT,
                        "definition": {
                            "type": CHATBOT_ACTIVITY_TYPE,
                            "name": {"en-US": "Support assistant: installing the Sync Connector"},
                        },
                    },
                    "result": {"response": question, "success": success},
                    "context": context,
                });
                self.push(at, statement);
            }
            day += DAY;
        }
    }

    fn file_tickets(&mut self, person: usize) {
        let scenario = self.scenario;
        let Person { propensity, main_view, .. } = self.people[person];
        let effective = main_view.filter(|(_, p)| *p >= EFFECTIVE_PROGRESS).map(|(at, _)| at);
        let mut day = self.start;
        let mut weekday =
            self.scenario.launch.checked_sub(7 * i64::from(scenario.weeks_before).days()).unwrap().weekday();
        while day < self.end {
            // Five working days at 1.25 and two weekend days at 0.375 average to one.
            let weekly = if weekday.to_monday_zero_offset() < 5 { 1.25 } else { 0.375 };
            let at = self.working_hours(day);
            let factor = match effective {
                Some(watched) if at > watched => scenario.viewer_ticket_factor,
                _ => 1.0,
            };
            let install = scenario.install_tickets_per_person_week / 7.0 * weekly * propensity * factor;
            if self.rng.chance(install) {
                let kind = self.rng.below(INSTALL_TICKETS.len());
                self.tickets.push(GeneratedTicket { created: at, person, install: true, kind });
            }
            if self.rng.chance(scenario.other_tickets_per_person_week / 7.0 * weekly) {
                let at = self.working_hours(day);
                let kind = self.rng.below(OTHER_TICKETS.len());
                self.tickets.push(GeneratedTicket { created: at, person, install: false, kind });
            }
            day += DAY;
            weekday = weekday.next();
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
            "Priority",
            "Via",
            "Subject",
            "Group",
        ];
        writer.write_record(header).expect("writing to memory");
        let format = |us: i64| timestamp(us).strftime("%Y-%m-%d %H:%M:%S").to_string();
        for (i, ticket) in self.tickets.iter().enumerate() {
            let rng = &mut self.rng;
            let solved = ticket.created + (rng.exponential(20.0) * HOUR as f64) as i64 + 10 * 60 * SECOND;
            let (status, solved_at) = if solved > self.end {
                (*rng.pick(&["Open", "Pending"]), String::new())
            } else if solved + 4 * DAY < self.end {
                ("Closed", format(solved))
            } else {
                ("Solved", format(solved))
            };
            let (tags, group, subject, ticket_type) = if ticket.install {
                let (extra, subject) = INSTALL_TICKETS[ticket.kind];
                (
                    format!("install connector {extra}"),
                    "Installation Support",
                    subject,
                    *rng.pick(&["Incident", "Incident", "Question", "Problem"]),
                )
            } else {
                let (tags, group, subject) = OTHER_TICKETS[ticket.kind];
                (tags.to_owned(), group, subject, *rng.pick(&["Question", "Incident"]))
            };
            let person = &self.people[ticket.person];
            // Helpdesks keep the address as people typed it.
            let email = if rng.chance(0.1) { capitalised(&person.email) } else { person.email.clone() };
            let priority = *rng.pick(&["Normal", "Normal", "Normal", "Low", "High", "Urgent"]);
            let via = *rng.pick(&["Web form", "Web form", "Mail", "Chat"]);
            let id = (50_001 + i).to_string();
            let created = format(ticket.created);
            let record = [
                id.as_str(),
                &created,
                &solved_at,
                status,
                &tags,
                &email,
                ticket_type,
                priority,
                via,
                subject,
                group,
            ];
            writer.write_record(record).expect("writing to memory");
        }
        String::from_utf8(writer.into_inner().expect("writing to memory")).expect("the CSV is UTF-8")
    }

    fn truth(&self) -> Truth {
        let baseline_start = self.launch - 28 * DAY;
        let final_start = (self.end - 28 * DAY).max(self.launch);
        let install = || self.tickets.iter().filter(|t| t.install);
        let baseline =
            install().filter(|t| t.created >= baseline_start && t.created < self.launch).count() as u32;
        let last = install().filter(|t| t.created >= final_start && t.created < self.end).count() as u32;
        let final_days = (self.end - final_start) as f64 / DAY as f64;
        let baseline_days = (self.launch - baseline_start.max(self.start)) as f64 / DAY as f64;
        let reduction_pct = if baseline == 0 {
            0.0
        } else {
            100.0 * (1.0 - (f64::from(last) / final_days) / (f64::from(baseline) / baseline_days))
        };

        let mut progress: Vec<f64> =
            self.people.iter().filter_map(|p| p.main_view.map(|(_, progress)| seconds(progress))).collect();
        progress.sort_by(f64::total_cmp);
        let median_progress = if progress.is_empty() { 0.0 } else { progress[progress.len() / 2] };

        let mut requesters = vec![false; self.people.len()];
        for ticket in install().filter(|t| t.created >= self.launch) {
            requesters[ticket.person] = true;
        }
        let requesters_after_launch = requesters.iter().filter(|r| **r).count() as u32;
        let reached =
            requesters.iter().zip(&self.people).filter(|(r, p)| **r && p.main_view.is_some()).count();

        let (mut viewer_tickets, mut viewer_weeks, mut other_tickets, mut other_weeks) =
            (0u32, 0.0, 0u32, 0.0);
        for (index, person) in self.people.iter().enumerate() {
            let from = person.main_view.map_or(self.launch, |(at, _)| at);
            let tickets = install().filter(|t| t.person == index && t.created > from).count() as u32;
            let weeks = (self.end - from) as f64 / WEEK as f64;
            if person.main_view.is_some() {
                viewer_tickets += tickets;
                viewer_weeks += weeks;
            } else {
                other_tickets += tickets;
                other_weeks += weeks;
            }
        }
        let rate = |tickets: u32, weeks: f64| if weeks > 0.0 { f64::from(tickets) / weeks } else { 0.0 };
        let survey_answers = self.survey.len() as u32;
        Truth {
            baseline_install_tickets: baseline,
            final_install_tickets: last,
            reduction_pct,
            viewers: progress.len() as u32,
            completers: progress.iter().filter(|p| **p >= EFFECTIVE_PROGRESS).count() as u32,
            median_progress,
            requesters_after_launch,
            requesters_reached_pct: if requesters_after_launch == 0 {
                0.0
            } else {
                100.0 * reached as f64 / f64::from(requesters_after_launch)
            },
            viewer_ticket_rate: rate(viewer_tickets, viewer_weeks),
            non_viewer_ticket_rate: rate(other_tickets, other_weeks),
            survey_answers,
            survey_mean: if survey_answers == 0 {
                0.0
            } else {
                f64::from(self.survey.iter().sum::<u32>()) / f64::from(survey_answers)
            },
        }
    }
}

/// `maria.garcia@customer.example` → `Maria.Garcia@Customer.Example`.
fn capitalised(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        out.extend(if start { c.to_uppercase().collect::<Vec<_>>() } else { vec![c] });
        start = matches!(c, '.' | '@');
    }
    out
}
