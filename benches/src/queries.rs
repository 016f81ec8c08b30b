//! The statement queries of read mode, with values that exist in a store loaded by write
//! mode: each query takes the facts of a loaded statement `n` (see
//! [`Generator::facts`](crate::generator::Generator::facts)) and asks for them.

use serde_json::Value;
use xapi::Timestamp;

use crate::generator::{Facts, agent, instructor_mbox, learner_mbox};

/// A kind of statement query (xAPI 1.0.3 Communication §2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum QueryKind {
    /// `verb`: one of eight verbs (an eighth of the store).
    #[value(name = "verb")]
    Verb,
    /// `agent`: a learner (the actor).
    #[value(name = "agent")]
    Agent,
    /// `activity`: a video or lesson (the object).
    #[value(name = "activity")]
    Activity,
    /// `registration`: a learner's registration in an activity.
    #[value(name = "registration")]
    Registration,
    /// `agent` + `related_agents=true`: an instructor (context) or a learner.
    #[value(name = "related_agents")]
    RelatedAgents,
    /// `activity` + `related_activities=true`: the course, program or video category
    /// (context activities, each in half the store or all of it) or the object.
    #[value(name = "related_activities")]
    RelatedActivities,
    /// `since` + `ascending=true`: tailing from a point of the stored range.
    #[value(name = "since")]
    Since,
    /// `until`: newest first from a point of the stored range.
    #[value(name = "until")]
    Until,
    /// `since` + `until`: a window of 1% of the stored range.
    #[value(name = "since_until")]
    SinceUntil,
    /// `agent` + `verb`: two filters intersected.
    #[value(name = "agent_verb")]
    AgentVerb,
    /// Following `more` links of a `verb` query (the first page counts as `verb`).
    #[value(name = "more")]
    More,
}

impl QueryKind {
    pub const ALL: [QueryKind; 11] = [
        QueryKind::Verb,
        QueryKind::Agent,
        QueryKind::Activity,
        QueryKind::Registration,
        QueryKind::RelatedAgents,
        QueryKind::RelatedActivities,
        QueryKind::Since,
        QueryKind::Until,
        QueryKind::SinceUntil,
        QueryKind::AgentVerb,
        QueryKind::More,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Verb => "verb",
            QueryKind::Agent => "agent",
            QueryKind::Activity => "activity",
            QueryKind::Registration => "registration",
            QueryKind::RelatedAgents => "related_agents",
            QueryKind::RelatedActivities => "related_activities",
            QueryKind::Since => "since",
            QueryKind::Until => "until",
            QueryKind::SinceUntil => "since_until",
            QueryKind::AgentVerb => "agent_verb",
            QueryKind::More => "more",
        }
    }

    /// Whether the query needs the store's `stored` range.
    pub fn needs_stored_range(self) -> bool {
        matches!(self, QueryKind::Since | QueryKind::Until | QueryKind::SinceUntil)
    }
}

/// The `stored` times of the oldest and newest statement in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRange {
    pub first: Timestamp,
    pub last: Timestamp,
}

impl StoredRange {
    /// The instant `fraction` (0..=1) of the way through the range.
    pub fn at(&self, fraction: f64) -> Timestamp {
        let span = (self.last.as_micros() - self.first.as_micros()) as f64;
        Timestamp::from_micros(self.first.as_micros() + (span * fraction.clamp(0.0, 1.0)) as i64)
    }
}

/// The query string of a `kind` query (not [`QueryKind::More`], whose first page is a
/// `verb` query) about `facts`. `pick` (0..1, from the caller's random stream) chooses
/// among alternatives and the point in the stored range.
pub fn query_string(
    kind: QueryKind,
    facts: &Facts,
    range: Option<StoredRange>,
    pick: f64,
    limit: Option<usize>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let learner = || agent_param(&learner_mbox(facts.learner));
    let stamp = |t: Timestamp| t.to_rfc3339();
    let range =
        range.unwrap_or(StoredRange { first: Timestamp::from_micros(0), last: Timestamp::from_micros(0) });
    match kind {
        QueryKind::Verb | QueryKind::More => {
            q.append_pair("verb", facts.verb);
        }
        QueryKind::Agent => {
            q.append_pair("agent", &learner());
        }
        QueryKind::Activity => {
            q.append_pair("activity", &facts.activity_id);
        }
        QueryKind::Registration => {
            q.append_pair("registration", &facts.registration.to_string());
        }
        QueryKind::RelatedAgents => {
            let who = match facts.instructor {
                Some(i) if pick < 0.5 => agent_param(&instructor_mbox(i)),
                _ => learner(),
            };
            q.append_pair("agent", &who);
            q.append_pair("related_agents", "true");
        }
        QueryKind::RelatedActivities => {
            let mut choices: Vec<&str> = facts.context_activities.clone();
            choices.push(&facts.activity_id);
            let chosen = choices[((pick * choices.len() as f64) as usize).min(choices.len() - 1)];
            q.append_pair("activity", chosen);
            q.append_pair("related_activities", "true");
        }
        QueryKind::Since => {
            q.append_pair("since", &stamp(range.at(pick)));
            q.append_pair("ascending", "true");
        }
        QueryKind::Until => {
            q.append_pair("until", &stamp(range.at(pick)));
        }
        QueryKind::SinceUntil => {
            let from = range.at(pick * 0.99);
            let to = Timestamp::from_micros(
                range.at(pick * 0.99 + 0.01).as_micros().max(from.as_micros() + 1_000),
            );
            q.append_pair("since", &stamp(from));
            q.append_pair("until", &stamp(to));
        }
        QueryKind::AgentVerb => {
            q.append_pair("agent", &learner());
            q.append_pair("verb", facts.verb);
        }
    }
    if let Some(limit) = limit {
        q.append_pair("limit", &limit.to_string());
    }
    q.finish()
}

fn agent_param(mbox: &str) -> String {
    // Only the IFI matters to the filter; `name` is left out, as clients usually do.
    let mut a = agent("", mbox);
    a.as_object_mut().map(|o| o.remove("name"));
    a.to_string()
}

/// The `more` link of a statement result (`""` or absent when it is the last page).
/// Reads only the end of the body, where the LRS puts it, so a large page costs nothing
/// to scan; falls back to parsing the whole result.
pub fn more_link(body: &str) -> Option<String> {
    let tail = body.rfind("\"more\"").map(|i| &body[i + "\"more\"".len()..]);
    let from_tail = tail.and_then(|t| {
        let t = t.trim_start().strip_prefix(':')?.trim_start();
        let t = t.trim_end().strip_suffix('}')?.trim_end();
        serde_json::from_str::<String>(t).ok()
    });
    let link = match from_tail {
        Some(link) => link,
        None => serde_json::from_str::<Value>(body).ok()?.get("more")?.as_str()?.to_string(),
    };
    (!link.is_empty()).then_some(link)
}

/// Whether a statement result holds no statement.
pub fn is_empty_result(body: &str) -> bool {
    let compact = body.trim_start();
    if let Some(rest) = compact.strip_prefix("{\"statements\":") {
        return rest.trim_start().starts_with("[]");
    }
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("statements").and_then(Value::as_array).map(Vec::is_empty))
        .unwrap_or(true)
}

/// The `stored` time of the first statement of a result.
pub fn first_stored(body: &str) -> Option<Timestamp> {
    let v: Value = serde_json::from_str(body).ok()?;
    let text = v.get("statements")?.get(0)?.get("stored")?.as_str()?;
    Timestamp::parse(text).map(|p| p.instant)
}

/// Resolves a `more` link (relative to the server, as xAPI allows) against the base URL
/// `http://host:port/xapi`.
pub fn resolve(base: &str, link: &str) -> String {
    if link.starts_with("http://") || link.starts_with("https://") {
        return link.to_string();
    }
    let origin_end = base.find("://").map(|i| i + 3).and_then(|i| base[i..].find('/').map(|j| i + j));
    let origin = origin_end.map_or(base, |e| &base[..e]);
    format!("{origin}{link}")
}

/// A small deterministic random stream (SplitMix64), so runs with one seed ask the same
/// queries.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn fraction(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{COURSE, Generator};

    fn params(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn queries_ask_for_values_of_the_loaded_statement() {
        let generator = Generator::default();
        let facts = generator.facts(1);
        let range =
            StoredRange { first: Timestamp::from_micros(0), last: Timestamp::from_micros(100_000_000) };
        let p = |kind, pick| params(&query_string(kind, &facts, Some(range), pick, None));
        assert_eq!(p(QueryKind::Verb, 0.0), [("verb".into(), facts.verb.to_string())]);
        let agent = &p(QueryKind::Agent, 0.0)[0];
        assert_eq!(agent.0, "agent");
        let agent: Value = serde_json::from_str(&agent.1).unwrap();
        assert_eq!(agent["mbox"], "mailto:learner1@example.com");
        assert_eq!(p(QueryKind::Registration, 0.0)[0].1, facts.registration.to_string());
        assert_eq!(p(QueryKind::Activity, 0.0)[0].1, facts.activity_id);
        assert!(p(QueryKind::RelatedAgents, 0.1)[0].1.contains("instructor"));
        assert!(p(QueryKind::RelatedAgents, 0.9)[0].1.contains("learner1@"));
        assert_eq!(
            p(QueryKind::RelatedActivities, 0.0),
            [("activity".into(), COURSE.to_string()), ("related_activities".into(), "true".into())]
        );
        assert_eq!(
            p(QueryKind::Since, 0.5),
            [("since".into(), "1970-01-01T00:00:50.000Z".into()), ("ascending".into(), "true".into())]
        );
        let window = p(QueryKind::SinceUntil, 1.0);
        assert_eq!(window[0].1, "1970-01-01T00:01:39.000Z");
        assert_eq!(window[1].1, "1970-01-01T00:01:40.000Z");
        let both = p(QueryKind::AgentVerb, 0.0);
        assert_eq!((both[0].0.as_str(), both[1].0.as_str()), ("agent", "verb"));
        assert_eq!(
            params(&query_string(QueryKind::Verb, &facts, None, 0.0, Some(10)))[1],
            ("limit".into(), "10".into())
        );
    }

    #[test]
    fn every_kind_builds_a_query() {
        let facts = Generator::default().facts(2);
        for kind in QueryKind::ALL {
            assert!(!query_string(kind, &facts, None, 0.3, None).is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn more_links_are_read_from_the_end_of_the_result() {
        let body = r#"{"statements":[{"id":"x","more":"not this"}],"more":"/xapi/statements?more=abc"}"#;
        assert_eq!(more_link(body).as_deref(), Some("/xapi/statements?more=abc"));
        assert_eq!(more_link(r#"{"statements":[],"more":""}"#), None);
        assert_eq!(more_link(r#"{ "more" : "/m?x=1" , "statements" : [] }"#).as_deref(), Some("/m?x=1"));
        assert!(is_empty_result(r#"{"statements":[],"more":""}"#));
        assert!(!is_empty_result(body));
        assert!(is_empty_result(r#"{ "statements" : [ ] }"#));
    }

    #[test]
    fn relative_links_resolve_against_the_origin() {
        assert_eq!(
            resolve("http://127.0.0.1:8090/xapi", "/xapi/statements?more=a"),
            "http://127.0.0.1:8090/xapi/statements?more=a"
        );
        assert_eq!(resolve("http://h:1/xapi", "https://o/x"), "https://o/x");
    }

    #[test]
    fn the_first_stored_time_is_read_from_a_result() {
        let body = r#"{"statements":[{"stored":"2026-11-28T10:00:00.123Z"}],"more":""}"#;
        assert_eq!(first_stored(body), Timestamp::parse("2026-11-28T10:00:00.123Z").map(|p| p.instant));
        assert_eq!(first_stored(r#"{"statements":[]}"#), None);
    }

    #[test]
    fn the_random_stream_is_deterministic_and_spread() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..1_000).map(|_| a.below(10)).collect();
        assert_eq!(xs, (0..1_000).map(|_| b.below(10)).collect::<Vec<_>>());
        assert!((0..10).all(|d| xs.iter().filter(|x| **x == d).count() > 50));
        assert!((0..1_000).map(|_| a.fraction()).all(|f| (0.0..1.0).contains(&f)));
    }
}
