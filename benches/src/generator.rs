//! Unique, realistic statements: learners from a pool watching videos and taking courses,
//! with definitions, results, registrations and extensions (about 1–2 KB each).

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

impl Generator {
    pub fn statement(&self, n: u64) -> Value {
        let learner = n as usize % self.actors;
        let activity = (n as usize / 7) % self.activities;
        let registration = Uuid::from_u64_pair(learner as u64, activity as u64);
        let actor = json!({
            "objectType": "Agent",
            "name": format!("Learner {learner}"),
            "mbox": format!("mailto:learner{learner}@example.com"),
        });
        if n.is_multiple_of(2) {
            self.video(n, actor, activity, registration)
        } else {
            self.course(n, actor, activity, registration)
        }
    }

    fn video(&self, n: u64, actor: Value, activity: usize, registration: Uuid) -> Value {
        let (verb, display) = VIDEO_VERBS[(n / 2) as usize % VIDEO_VERBS.len()];
        let length = 300.0;
        let time = (n % 300) as f64;
        json!({
            "id": Uuid::new_v4().to_string(),
            "actor": actor,
            "verb": { "id": verb, "display": { "en-US": display } },
            "object": {
                "objectType": "Activity",
                "id": format!("https://videos.example.com/install/{activity}"),
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
                "registration": registration.to_string(),
                "contextActivities": {
                    "category": [{ "id": "https://w3id.org/xapi/video" }],
                    "parent": [{ "id": "https://academy.example.com/courses/install" }],
                },
                "extensions": {
                    "https://w3id.org/xapi/video/extensions/length": length,
                    "https://w3id.org/xapi/video/extensions/session-id": registration.simple().to_string(),
                    "https://w3id.org/xapi/video/extensions/user-agent": "Mozilla/5.0 (X11; Linux x86_64) Tally-Load/1.0",
                },
            },
            "timestamp": "2026-11-02T10:15:30.250Z",
        })
    }

    fn course(&self, n: u64, actor: Value, activity: usize, registration: Uuid) -> Value {
        let (verb, display) = COURSE_VERBS[(n / 2) as usize % COURSE_VERBS.len()];
        let scaled = ((n % 100) as f64) / 100.0;
        json!({
            "id": Uuid::new_v4().to_string(),
            "actor": actor,
            "verb": { "id": verb, "display": { "en-US": display } },
            "object": {
                "objectType": "Activity",
                "id": format!("https://academy.example.com/courses/install/lessons/{activity}"),
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
                "registration": registration.to_string(),
                "platform": "Example LMS",
                "language": "en-US",
                "contextActivities": {
                    "parent": [{ "id": "https://academy.example.com/courses/install" }],
                    "grouping": [{ "id": "https://academy.example.com/programs/onboarding" }],
                },
                "extensions": { "https://academy.example.com/extensions/cohort": format!("cohort-{}", n % 12) },
            },
            "timestamp": "2026-11-02T10:15:30.250Z",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_statements_are_valid_xapi_of_realistic_size() {
        let generator = Generator::default();
        for n in 0..200 {
            let statement = generator.statement(n);
            let size = statement.to_string().len();
            assert!((700..=2_500).contains(&size), "statement {n} is {size} bytes");
            xapi::Statement::parse(statement, xapi::Version::V1_0)
                .unwrap_or_else(|e| panic!("statement {n}: {e}"));
        }
    }

    #[test]
    fn every_statement_gets_a_fresh_id() {
        let generator = Generator::default();
        assert_ne!(generator.statement(1)["id"], generator.statement(1)["id"]);
    }
}
