//! What one statement adds to the rollups, and how contributions combine. Pure: the
//! engine (`engine.rs`) reads statements and writes rollup steps around it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use store::insights::{ActivityActorRow, DailyActorRow, DailyRow};
use xapi::{AgentKey, Timestamp, VerbOutcome};

use crate::days::day_of;

/// Video Profile extensions (https://w3id.org/xapi/video).
pub const VIDEO_PROGRESS: &str = "https://w3id.org/xapi/video/extensions/progress";
pub const VIDEO_PLAYED_SEGMENTS: &str = "https://w3id.org/xapi/video/extensions/played-segments";
pub const VIDEO_LENGTH: &str = "https://w3id.org/xapi/video/extensions/length";
/// cmi5's progress (0–100).
pub const CMI5_PROGRESS: &str = "https://w3id.org/xapi/cmi5/result/extensions/progress";

/// What one statement contributes: its object activity, verb, actor and day, and the
/// counts and progress it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    pub activity_id: String,
    pub verb_id: String,
    pub actor: String,
    /// When it happened (the statement's timestamp), microseconds.
    pub at: i64,
    pub completion: bool,
    pub success: Option<bool>,
    pub scaled: Option<f64>,
    pub duration_ms: i64,
    /// Progress through the activity, 0..=1, when the statement says.
    pub progress: Option<f64>,
    /// Watched video segments, in seconds.
    pub segments: Vec<(f64, f64)>,
    /// The video's length in seconds (the Video Profile's `length` context extension).
    pub length: Option<f64>,
    /// What identifies the content's revision: `revision:<context.revision>` and
    /// `definition:<SHA-1 of the definition>` when the statement carries them.
    pub markers: Vec<String>,
}

impl Contribution {
    /// The contribution of a statement, or `None` when its object is not an Activity or
    /// its actor has no identifier (an anonymous Group).
    pub fn of(statement: &Map<String, Value>) -> Option<Contribution> {
        let object = statement.get("object")?.as_object()?;
        if object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") != "Activity" {
            return None;
        }
        let activity_id = object.get("id")?.as_str()?.to_string();
        let verb_id = statement.get("verb")?.get("id")?.as_str()?.to_string();
        let actor = AgentKey::of(statement.get("actor")?.as_object()?)?.as_str().to_string();
        let at = ["timestamp", "stored"]
            .iter()
            .find_map(|k| statement.get(*k).and_then(Value::as_str).and_then(Timestamp::parse))
            .map_or(0, |t| t.instant.as_micros());
        let result = statement.get("result").and_then(Value::as_object);
        let extension = |key: &str| -> Option<&Value> {
            result.and_then(|r| r.get("extensions")).and_then(|e| e.get(key))
        };
        let outcome = xapi::verb_outcome(&verb_id);
        let completion = result.and_then(|r| r.get("completion")).and_then(Value::as_bool).unwrap_or(false)
            || outcome == Some(VerbOutcome::Completed);
        let success = result.and_then(|r| r.get("success")).and_then(Value::as_bool).or(match outcome {
            Some(VerbOutcome::Passed) => Some(true),
            Some(VerbOutcome::Failed) => Some(false),
            _ => None,
        });
        let scaled =
            result.and_then(|r| r.get("score")).and_then(|s| s.get("scaled")).and_then(Value::as_f64);
        let duration_ms =
            result.and_then(|r| r.get("duration")).and_then(Value::as_str).map_or(0, duration_millis);
        let segments =
            extension(VIDEO_PLAYED_SEGMENTS).and_then(Value::as_str).map(parse_segments).unwrap_or_default();
        let length = statement
            .get("context")
            .and_then(|c| c.get("extensions"))
            .and_then(|e| e.get(VIDEO_LENGTH))
            .and_then(Value::as_f64)
            .filter(|l| *l > 0.0);
        let watched_to = length.and_then(|l| segments.iter().map(|(_, end)| end / l).reduce(f64::max));
        let progress = extension(VIDEO_PROGRESS)
            .and_then(Value::as_f64)
            .or_else(|| extension(CMI5_PROGRESS).and_then(Value::as_f64).map(|p| p / 100.0))
            .into_iter()
            .chain(watched_to)
            .chain(completion.then_some(1.0))
            .reduce(f64::max)
            .map(|p| p.clamp(0.0, 1.0));
        let revision = statement.get("context").and_then(|c| c.get("revision")).and_then(Value::as_str);
        let markers = revision
            .map(|r| format!("revision:{r}"))
            .into_iter()
            .chain(object.get("definition").map(|d| format!("definition:{}", digest(d))))
            .collect();
        Some(Contribution {
            activity_id,
            verb_id,
            actor,
            at,
            completion,
            success,
            scaled,
            duration_ms,
            progress,
            segments,
            length,
            markers,
        })
    }

    /// Days since the epoch (UTC) of when it happened.
    pub fn day(&self) -> i64 {
        day_of(self.at)
    }
}

/// SHA-1 hex of a JSON value with its object keys sorted, so the same definition sent with
/// its properties in another order has the same digest.
fn digest(value: &Value) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(value, &mut text);
    Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An ISO 8601 duration in milliseconds (years as 365 days, months as 30).
pub fn duration_millis(text: &str) -> i64 {
    let Some(body) = text.strip_prefix('P') else { return 0 };
    let mut total = 0.0;
    let mut number = String::new();
    let mut in_time = false;
    for c in body.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            designator => {
                let value: f64 = number.parse().unwrap_or(0.0);
                number.clear();
                let seconds = match (designator, in_time) {
                    ('Y', false) => 365.0 * 86_400.0,
                    ('M', false) => 30.0 * 86_400.0,
                    ('W', false) => 7.0 * 86_400.0,
                    ('D', false) => 86_400.0,
                    ('H', true) => 3_600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => 0.0,
                };
                total += value * seconds;
            }
        }
    }
    (total * 1_000.0).round() as i64
}

/// Parses Video Profile played segments: `0[.]5.2[,]10.5[.]20`.
pub fn parse_segments(text: &str) -> Vec<(f64, f64)> {
    text.split("[,]")
        .filter_map(|segment| {
            let (start, end) = segment.split_once("[.]")?;
            let (start, end): (f64, f64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
            (end >= start).then_some((start, end))
        })
        .collect()
}

/// Merges overlapping or touching segments, sorted.
pub fn merge_segments(mut segments: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    segments.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(segments.len());
    for (start, end) in segments {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

pub fn format_segments(segments: &[(f64, f64)]) -> String {
    segments.iter().map(|(s, e)| format!("{s}[.]{e}")).collect::<Vec<_>>().join("[,]")
}

/// Rollup changes gathered over many contributions, in memory until written.
#[derive(Debug, Default)]
pub struct Deltas {
    pub daily: BTreeMap<(i64, String, String), DailyRow>,
    /// Statements by day × activity × actor.
    pub daily_actors: BTreeMap<(i64, String, String), i64>,
}

impl Deltas {
    /// Adds a contribution (`sign` 1) or takes it back out (`sign` -1).
    pub fn add(&mut self, c: &Contribution, sign: i64) {
        let key = (c.day(), c.activity_id.clone(), c.verb_id.clone());
        let row = self.daily.entry(key).or_insert_with(|| DailyRow {
            day: c.day(),
            activity_id: c.activity_id.clone(),
            verb_id: c.verb_id.clone(),
            ..DailyRow::default()
        });
        row.statements += sign;
        row.completions += sign * i64::from(c.completion);
        row.passes += sign * i64::from(c.success == Some(true));
        row.failures += sign * i64::from(c.success == Some(false));
        if let Some(scaled) = c.scaled {
            row.scaled_sum += sign as f64 * scaled;
            row.scaled_count += sign;
        }
        row.duration_ms += sign * c.duration_ms;
        *self.daily_actors.entry((c.day(), c.activity_id.clone(), c.actor.clone())).or_default() += sign;
    }

    pub fn daily_rows(&self) -> Vec<DailyRow> {
        self.daily.values().cloned().collect()
    }

    pub fn daily_actor_rows(&self) -> Vec<DailyActorRow> {
        self.daily_actors
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((day, activity, actor), n)| DailyActorRow {
                day: *day,
                activity_id: activity.clone(),
                actor: actor.clone(),
                statements: *n,
            })
            .collect()
    }
}

/// Folds a contribution into an activity × actor row.
pub fn fold(row: &mut ActivityActorRow, c: &Contribution) {
    if row.statements == 0 {
        row.first_seen = c.at;
        row.last_seen = c.at;
    }
    row.statements += 1;
    row.completions += i64::from(c.completion);
    row.first_seen = row.first_seen.min(c.at);
    row.last_seen = row.last_seen.max(c.at);
    if let Some(progress) = c.progress {
        row.best_progress = row.best_progress.max(progress);
    }
    if let Some(length) = c.length {
        row.length = Some(row.length.map_or(length, |l| l.max(length)));
    }
    if !c.segments.is_empty() {
        let mut all = parse_segments(&row.segments);
        all.extend_from_slice(&c.segments);
        row.segments = format_segments(&merge_segments(all));
    }
}

/// An empty activity × actor row.
pub fn empty_row(activity_id: &str, actor: &str) -> ActivityActorRow {
    ActivityActorRow {
        activity_id: activity_id.to_string(),
        actor: actor.to_string(),
        ..ActivityActorRow::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(value: Value) -> Option<Contribution> {
        Contribution::of(value.as_object().unwrap())
    }

    fn video(verb: &str, progress: f64, segments: &str) -> Value {
        json!({
            "actor": { "mbox": "mailto:ann@example.com" },
            "verb": { "id": format!("https://w3id.org/xapi/video/verbs/{verb}") },
            "object": { "id": "https://academy.example.com/install/video-1" },
            "result": { "extensions": { VIDEO_PROGRESS: progress, VIDEO_PLAYED_SEGMENTS: segments } },
            "context": { "extensions": { VIDEO_LENGTH: 120.0 } },
            "timestamp": "2026-03-02T10:00:00Z",
        })
    }

    #[test]
    fn a_video_statement_gives_its_progress_and_segments() {
        let c = of(video("paused", 0.25, "0[.]30")).unwrap();
        assert_eq!(c.actor, "mbox:mailto:ann@example.com");
        assert_eq!(c.progress, Some(0.25));
        assert_eq!(c.segments, vec![(0.0, 30.0)]);
        assert_eq!(c.day(), day_of(Timestamp::parse("2026-03-02T00:00:00Z").unwrap().instant.as_micros()));
    }

    #[test]
    fn revision_markers_come_from_context_revision_and_the_definition() {
        let mut statement = video("played", 0.1, "0[.]12");
        statement["context"]["revision"] = json!("v2");
        statement["object"]["definition"] =
            json!({ "type": "https://w3id.org/xapi/video/activity-type/video", "name": { "en": "Install" } });
        let first = of(statement.clone()).unwrap();
        assert_eq!(first.markers.len(), 2);
        assert_eq!(first.markers[0], "revision:v2");
        assert!(first.markers[1].starts_with("definition:"));
        // The same definition with its properties in another order is the same revision.
        statement["object"]["definition"] =
            json!({ "name": { "en": "Install" }, "type": "https://w3id.org/xapi/video/activity-type/video" });
        assert_eq!(of(statement.clone()).unwrap().markers, first.markers);
        statement["object"]["definition"]["name"]["en"] = json!("Install, re-cut");
        assert_ne!(of(statement).unwrap().markers[1], first.markers[1]);
        assert!(of(video("played", 0.1, "0[.]12")).unwrap().markers.is_empty());
    }

    #[test]
    fn segments_beyond_the_reported_progress_count_as_progress() {
        let c = of(video("paused", 0.1, "0[.]60")).unwrap();
        assert_eq!(c.progress, Some(0.5), "60 of 120 seconds watched");
    }

    #[test]
    fn completion_success_score_and_duration_are_read() {
        let c = of(json!({
            "actor": { "mbox": "mailto:bob@example.com" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/passed" },
            "object": { "id": "http://example.com/course" },
            "result": { "score": { "scaled": 0.8 }, "completion": true, "duration": "PT1M30.5S" },
        }))
        .unwrap();
        assert!(c.completion);
        assert_eq!(
            (c.success, c.scaled, c.duration_ms, c.progress),
            (Some(true), Some(0.8), 90_500, Some(1.0))
        );
    }

    #[test]
    fn statements_about_agents_or_statements_contribute_nothing() {
        let agent_object = json!({
            "actor": { "mbox": "mailto:a@example.com" },
            "verb": { "id": "http://example.com/verbs/mentored" },
            "object": { "objectType": "Agent", "mbox": "mailto:b@example.com" },
        });
        assert!(of(agent_object).is_none());
    }

    #[test]
    fn segments_merge_when_they_overlap_or_touch() {
        let merged = merge_segments(vec![(10.0, 20.0), (0.0, 5.0), (5.0, 8.0), (15.0, 30.0)]);
        assert_eq!(merged, vec![(0.0, 8.0), (10.0, 30.0)]);
        assert_eq!(parse_segments(&format_segments(&merged)), merged);
        assert_eq!(parse_segments("0[.]1.5[,]junk[,]3[.]2"), vec![(0.0, 1.5)]);
    }

    #[test]
    fn durations_become_milliseconds() {
        assert_eq!(duration_millis("PT1H"), 3_600_000);
        assert_eq!(duration_millis("P1DT0.25S"), 86_400_250);
        assert_eq!(duration_millis("nonsense"), 0);
    }

    #[test]
    fn deltas_add_and_take_back_out() {
        let c = of(video("completed", 1.0, "0[.]120")).unwrap();
        let mut deltas = Deltas::default();
        deltas.add(&c, 1);
        deltas.add(&c, 1);
        deltas.add(&c, -1);
        let rows = deltas.daily_rows();
        assert_eq!((rows[0].statements, rows[0].completions), (1, 1));
        assert_eq!(deltas.daily_actor_rows()[0].statements, 1);
        let mut row = empty_row(&c.activity_id, &c.actor);
        fold(&mut row, &c);
        fold(&mut row, &of(video("played", 0.1, "200[.]210")).unwrap());
        assert_eq!((row.statements, row.completions, row.best_progress), (2, 1, 1.0));
        assert_eq!(row.segments, "0[.]120[,]200[.]210");
    }
}
