//! Unique, realistic statements: learners from a pool watching videos and taking courses,
//! with definitions, results, registrations, instructors and extensions (about 1–2 KB each).
//!
//! Statement `n` is a pure function of `n` (apart from its random id), so a reader can
//! find values that exist in a store loaded with statements `0..N`: [`Generator::facts`]
//! says what statement `n` holds without building it.

use serde_json::{Value, json};
use uuid::Uuid;

const VIDEO_VERBS: &[(&str, &str)] = &[
    ("https://w3id.org/xapi/video/verbs/played", "played"),
    ("https://w3id.org/xapi/video/verbs/paused", "paused"),
    ("https://w3id.org/xapi/video/verbs/seeked", "seeked"),
    ("http://adlnet.gov/expapi/verbs/completed", "completed"),
];
const COURSE_VERBS: &[(&str, &str)] = &[
    ("http://adlnet.gov/expapi/verbs/launched", "launched"),
    ("http://adlnet.gov/expapi/verbs/attempted", "attempted"),
    ("http://adlnet.gov/expapi/verbs/passed", "passed"),
    ("http://adlnet.gov/expapi/verbs/failed", "failed"),
];

/// The course every lesson and video belongs to (`contextActivities.parent`).
pub const COURSE: &str = "https://academy.example.com/courses/install";
/// The program every lesson belongs to (`contextActivities.grouping` of course statements).
pub const PROGRAM: &str = "https://academy.example.com/programs/onboarding";
/// The video profile category (`contextActivities.category` of video statements).
pub const VIDEO_CATEGORY: &str = "https://w3id.org/xapi/video";

/// Instructors in the pool; lesson `a` is taught by instructor `a % INSTRUCTORS`.
const INSTRUCTORS: usize = 20;

/// Simulated time between consecutive statements' `timestamp`s, in milliseconds.
const TIMESTAMP_STEP_MS: u64 = 250;

/// Makes statements. `n` numbers them, so the same `n` gives the same shape (but a fresh id).
#[derive(Clone, Debug)]
pub struct Generator {
    pub actors: usize,
    pub activities: usize,
}

impl Default for Generator {
    fn default() -> Self {
        Generator { actors: 5_000, activities: 200 }
    }
}

/// What statement `n` holds: the values its filters can be queried by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Index of the learner (the actor).
    pub learner: usize,
    /// Index of the video or lesson (the object).
    pub activity: usize,
    pub verb: &'static str,
    /// The object's Activity id.
    pub activity_id: String,
    pub registration: Uuid,
    /// The instructor (`context.instructor`) of course statements; video statements have none.
    pub instructor: Option<usize>,
    /// Every Activity id in `context.contextActivities`.
    pub context_activities: Vec<&'static str>,
}

impl Facts {
    /// Whether this is a video statement (even `n`) rather than a course one.
    pub fn is_video(&self) -> bool {
        self.instructor.is_none()
    }
}

/// The `mbox` of learner `i`.
pub fn learner_mbox(i: usize) -> String {
    format!("mailto:learner{i}@example.com")
}

/// The `mbox` of instructor `i`.
pub fn instructor_mbox(i: usize) -> String {
    format!("mailto:instructor{i}@example.com")
}

/// An Agent object identified by `mbox`, as a query parameter or statement property.
pub fn agent(name: &str, mbox: &str) -> Value {
    json!({ "objectType": "Agent", "name": name, "mbox": mbox })
}

impl Generator {
    /// The queryable facts of statement `n`.
    pub fn facts(&self, n: u64) -> Facts {
        let learner = n as usize % self.actors;
        let activity = (n as usize / 7) % self.activities;
        let registration = Uuid::from_u64_pair(learner as u64, activity as u64);
        if n.is_multiple_of(2) {
            Facts {
                learner,
                activity,
                verb: VIDEO_VERBS[(n / 2) as usize % VIDEO_VERBS.len()].0,
                activity_id: format!("https://videos.example.com/install/{activity}"),
                registration,
                instructor: None,
                context_activities: vec![VIDEO_CATEGORY, COURSE],
            }
        } else {
            Facts {
                learner,
                activity,
                verb: COURSE_VERBS[(n / 2) as usize % COURSE_VERBS.len()].0,
                activity_id: format!("{COURSE}/lessons/{activity}"),
                registration,
                instructor: Some(activity % INSTRUCTORS),
                context_activities: vec![COURSE, PROGRAM],
            }
        }
    }

    /// Statement `n`, with a fresh random id.
    pub fn statement(&self, n: u64) -> Value {
        let facts = self.facts(n);
        let actor = agent(&format!("Learner {}", facts.learner), &learner_mbox(facts.learner));
        if facts.is_video() { self.video(n, actor, &facts) } else { self.course(n, actor, &facts) }
    }

    /// The request body for statements `range`: one statement object when the range holds
    /// one, else an array.
    pub fn body(&self, range: std::ops::Range<u64>) -> String {
        if range.end - range.start == 1 {
            self.statement(range.start).to_string()
        } else {
            Value::Array(range.map(|n| self.statement(n)).collect()).to_string()
        }
    }

    fn video(&self, n: u64, actor: Value, facts: &Facts) -> Value {
        let display = VIDEO_VERBS[(n / 2) as usize % VIDEO_VERBS.len()].1;
        let length = 300.0;
        let time = (n % 300) as f64;
        let activity = facts.activity;
        json!({
            "id": Uuid::new_v4().to_string(),
            "actor": actor,
            "verb": { "id": facts.verb, "display": { "en-US": display } },
            "object": {
                "objectType": "Activity",
                "id": facts.activity_id,
                "definition": {
                    "type": "https://w3id.org/xapi/video/activity-type/video",
                    "name": { "en-US": format!("Installing the module, part {activity}") },
                    "description": { "en-US": "A short video on installing and configuring the module." },
                },
            },
            "result": {
                "extensions": {
                    "https://w3id.org/xapi/video/extensions/time": time,
                    "https://w3id.org/xapi/video/extensions/progress": (time / length * 100.0).round() / 100.0,
                    "https://w3id.org/xapi/video/extensions/played-segments": format!("0[.]{time}"),
                },
            },
            "context": {
                "registration": facts.registration.to_string(),
                "contextActivities": {
                    "category": [{ "id": VIDEO_CATEGORY }],
                    "parent": [{ "id": COURSE }],
                },
                "extensions": {
                    "https://w3id.org/xapi/video/extensions/length": length,
                    "https://w3id.org/xapi/video/extensions/session-id": facts.registration.simple().to_string(),
                    "https://w3id.org/xapi/video/extensions/user-agent": "Mozilla/5.0 (X11; Linux x86_64) Tally-Load/1.0",
                },
            },
            "timestamp": timestamp(n),
        })
    }

    fn course(&self, n: u64, actor: Value, facts: &Facts) -> Value {
        let display = COURSE_VERBS[(n / 2) as usize % COURSE_VERBS.len()].1;
        let scaled = ((n % 100) as f64) / 100.0;
        let activity = facts.activity;
        let instructor = facts.instructor.unwrap_or_default();
        json!({
            "id": Uuid::new_v4().to_string(),
            "actor": actor,
            "verb": { "id": facts.verb, "display": { "en-US": display } },
            "object": {
                "objectType": "Activity",
                "id": facts.activity_id,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/lesson",
                    "name": { "en-US": format!("Lesson {activity}"), "de-DE": format!("Lektion {activity}") },
                    "description": { "en-US": "Prerequisites, installation steps and a first configuration." },
                },
            },
            "result": {
                "score": { "scaled": scaled, "raw": scaled * 50.0, "min": 0.0, "max": 50.0 },
                "success": scaled >= 0.6,
                "completion": true,
                "duration": format!("PT{}M{}S", n % 40, n % 60),
            },
            "context": {
                "registration": facts.registration.to_string(),
                "instructor": agent(&format!("Instructor {instructor}"), &instructor_mbox(instructor)),
                "platform": "Example LMS",
                "language": "en-US",
                "contextActivities": {
                    "parent": [{ "id": COURSE }],
                    "grouping": [{ "id": PROGRAM }],
                },
                "extensions": { "https://academy.example.com/extensions/cohort": format!("cohort-{}", n % 12) },
            },
            "timestamp": timestamp(n),
        })
    }
}

/// The `timestamp` of statement `n`: from 2026-11-01T00:00:00Z on, [`TIMESTAMP_STEP_MS`]
/// apart, wrapping after 28 days (so every value is a valid November date).
fn timestamp(n: u64) -> String {
    let ms = (n * TIMESTAMP_STEP_MS) % (28 * 86_400_000);
    let (day, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (hour, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (minute, rest) = (rest / 60_000, rest % 60_000);
    let (second, milli) = (rest / 1_000, rest % 1_000);
    format!("2026-11-{:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z", day + 1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_statements_are_valid_xapi_of_realistic_size() {
        let generator = Generator::default();
        for n in 0..200 {
            let statement = generator.statement(n);
            let size = statement.to_string().len();
            assert!((700..=2_500).contains(&size), "statement {n} is {size} bytes");
            for version in [xapi::Version::V1_0, xapi::Version::V2_0] {
                xapi::Statement::parse(statement.clone(), version)
                    .unwrap_or_else(|e| panic!("statement {n} ({version:?}): {e}"));
            }
        }
    }

    #[test]
    fn every_statement_gets_a_fresh_id() {
        let generator = Generator::default();
        assert_ne!(generator.statement(1)["id"], generator.statement(1)["id"]);
        let ids: HashSet<String> =
            (0..10_000).map(|n| generator.statement(n)["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn statements_vary_in_learner_activity_verb_and_time() {
        let generator = Generator::default();
        let statements: Vec<Value> = (0..1_000).map(|n| generator.statement(n)).collect();
        let distinct = |f: &dyn Fn(&Value) -> String| statements.iter().map(f).collect::<HashSet<_>>().len();
        assert_eq!(distinct(&|s| s["actor"]["mbox"].to_string()), 1_000);
        assert_eq!(distinct(&|s| s["verb"]["id"].to_string()), 8);
        assert_eq!(distinct(&|s| s["timestamp"].to_string()), 1_000);
        assert!(distinct(&|s| s["object"]["id"].to_string()) > 200);
        assert!(distinct(&|s| s["context"]["registration"].to_string()) > 100);
        let mean = statements.iter().map(|s| s.to_string().len()).sum::<usize>() / statements.len();
        assert!((900..=1_600).contains(&mean), "mean size {mean} bytes");
    }

    #[test]
    fn facts_describe_the_generated_statement() {
        let generator = Generator::default();
        for n in [0, 1, 2, 3, 77, 1_000_001] {
            let facts = generator.facts(n);
            let parsed = xapi::Statement::parse(generator.statement(n), xapi::Version::V1_0).unwrap();
            let indexed = parsed.facts();
            assert_eq!(indexed.verb, facts.verb);
            assert_eq!(indexed.registration, Some(facts.registration));
            assert_eq!(indexed.activities, vec![facts.activity_id.clone()]);
            assert_eq!(indexed.agents[0].as_str(), format!("mbox:{}", learner_mbox(facts.learner)));
            for context in &facts.context_activities {
                assert!(indexed.related_activities.iter().any(|a| a == context), "{n}: {context}");
            }
            if let Some(instructor) = facts.instructor {
                let key = format!("mbox:{}", instructor_mbox(instructor));
                assert!(indexed.related_agents.iter().any(|a| a.as_str() == key), "{n}");
            }
        }
    }

    #[test]
    fn a_body_is_one_object_or_an_array() {
        let generator = Generator::default();
        assert!(serde_json::from_str::<Value>(&generator.body(5..6)).unwrap().is_object());
        let batch: Value = serde_json::from_str(&generator.body(0..100)).unwrap();
        assert_eq!(batch.as_array().map(Vec::len), Some(100));
        xapi::parse_statements(generator.body(0..100).as_bytes(), xapi::Version::V1_0).unwrap();
    }

    #[test]
    fn timestamps_step_through_november() {
        assert_eq!(timestamp(0), "2026-11-01T00:00:00.000Z");
        assert_eq!(timestamp(5), "2026-11-01T00:00:01.250Z");
        assert_eq!(timestamp(4 * 86_400 + 4 * 3_661), "2026-11-02T01:01:01.000Z");
        assert_eq!(timestamp(4 * 86_400 * 28), timestamp(0));
    }
}
