//! Learning goals: what a training team wants to change (fewer tickets of some kind), with
//! which content, from when, and by how much.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use store::insights::{ActivitySelection, TicketRow};

/// A goal, as `PUT /insights/goals/{id}` takes it (unknown fields are refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub name: String,
    #[serde(default)]
    pub tickets: TicketSelection,
    pub content: ContentSelection,
    /// The day the content launched.
    #[serde(with = "date")]
    pub launch_date: Date,
    /// Days before launch that make the baseline.
    #[serde(default = "default_baseline_days")]
    pub baseline_days: u32,
    pub target: Target,
    #[serde(default)]
    pub thresholds: Thresholds,
}

fn default_baseline_days() -> u32 {
    28
}

/// Which tickets the goal is about (each list, when given, must match; tags match when the
/// ticket has any of them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSelection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl TicketSelection {
    /// Whether a ticket is one the goal is about. Tags compare case-insensitively.
    pub fn matches(&self, ticket: &TicketRow) -> bool {
        let listed = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|v| v.eq_ignore_ascii_case(value))
        };
        listed(&self.categories, &ticket.category)
            && listed(&self.products, &ticket.product)
            && listed(&self.sources, &ticket.source)
            && (self.tags.is_empty()
                || ticket.tags.iter().any(|t| self.tags.iter().any(|w| w.eq_ignore_ascii_case(t))))
    }
}

/// The content that should make the difference: listed activities and/or an id prefix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentSelection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activity_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id_prefix: Option<String>,
}

impl ContentSelection {
    pub fn selection(&self) -> ActivitySelection {
        ActivitySelection { ids: self.activity_ids.clone(), prefix: self.activity_id_prefix.clone() }
    }
}

/// Fewer matching tickets per week by this share, by this date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub reduction_pct: f64,
    #[serde(with = "date")]
    pub by: Date,
}

/// When the report calls a goal's reach low, its viewers' drop-off a problem, or its effect
/// absent. Every value has a documented default and can be set per goal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Reach is low below this share of the population (every person the store knows)…
    pub min_population_share: f64,
    /// …or below this share of the people at risk (those who filed matching tickets in the
    /// baseline) who touched the content. (Goals written before 2026-12 name it
    /// `min_requesters_seen_share`.)
    #[serde(alias = "min_requesters_seen_share")]
    pub min_at_risk_share: f64,
    /// Consumption is a problem below this completion rate…
    pub min_completion_rate: f64,
    /// …or when this share of viewers or more leaves the video between two tenths.
    pub max_video_drop: f64,
    /// The content has an effect when people who saw it file tickets at least this much
    /// less often than people who had not (0.2 = 20% less), with 95% confidence: the rate
    /// ratio's interval lies below `1 − min_effect`.
    pub min_effect: f64,
    /// The effect is not measurable with fewer goal tickets than this after launch (both
    /// arms together), or with less than one person-week in either arm.
    pub min_effect_tickets: u64,
    /// Fewer baseline tickets than this, fewer days since launch than `min_days`, or fewer
    /// learners than `min_learners` is not enough to judge.
    pub min_baseline_tickets: u64,
    pub min_days: i64,
    pub min_learners: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_population_share: 0.3,
            min_at_risk_share: 0.3,
            min_completion_rate: 0.5,
            max_video_drop: 0.3,
            min_effect: 0.2,
            min_effect_tickets: 10,
            min_baseline_tickets: 5,
            min_days: 7,
            min_learners: 5,
        }
    }
}

/// Why a goal definition is refused: the field and the rule.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct GoalError {
    pub field: String,
    pub message: String,
}

impl Goal {
    /// Parses and checks a goal definition.
    pub fn parse(json: &[u8]) -> Result<Goal, GoalError> {
        let goal: Goal = serde_json::from_slice(json)
            .map_err(|e| GoalError { field: field_of(&e), message: e.to_string() })?;
        goal.check()?;
        Ok(goal)
    }

    fn check(&self) -> Result<(), GoalError> {
        let err =
            |field: &str, message: &str| Err(GoalError { field: field.into(), message: message.into() });
        if self.name.trim().is_empty() {
            return err("name", "must not be empty");
        }
        if self.content.activity_ids.is_empty()
            && self.content.activity_id_prefix.as_deref().is_none_or(str::is_empty)
        {
            return err("content", "name activity_ids or an activity_id_prefix");
        }
        if let Some(bad) = self.content.activity_ids.iter().find(|id| !xapi::is_valid_iri(id)) {
            return err("content.activity_ids", &format!("{bad:?} is not an IRI"));
        }
        if !(0.0..=100.0).contains(&self.target.reduction_pct) {
            return err("target.reduction_pct", "must be between 0 and 100");
        }
        if self.target.by <= self.launch_date {
            return err("target.by", "must be after launch_date");
        }
        if self.baseline_days == 0 || self.baseline_days > 366 {
            return err("baseline_days", "must be between 1 and 366");
        }
        Ok(())
    }
}

fn field_of(error: &serde_json::Error) -> String {
    // serde names the unknown or missing field in its message: `unknown field `x``.
    let text = error.to_string();
    text.split('`').nth(1).map_or_else(String::new, str::to_string)
}

/// Dates as `YYYY-MM-DD`, or RFC 3339 (the date part is taken).
pub mod date {
    use jiff::civil::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&date.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD or RFC 3339)"))
        })
    }

    pub fn parse(text: &str) -> Option<Date> {
        text.parse::<Date>()
            .ok()
            .or_else(|| xapi::Timestamp::parse(text).map(|t| crate::days::date_of(t.instant.as_micros())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(json: serde_json::Value) -> Result<Goal, GoalError> {
        Goal::parse(json.to_string().as_bytes())
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "name": "Fewer install tickets",
            "tickets": { "tags": ["install"] },
            "content": { "activity_id_prefix": "https://academy.example.com/install/" },
            "launch_date": "2026-03-02",
            "target": { "reduction_pct": 30, "by": "2026-04-27T00:00:00Z" },
        })
    }

    #[test]
    fn a_goal_takes_dates_and_defaults() {
        let g = goal(valid()).unwrap();
        assert_eq!(g.baseline_days, 28);
        assert_eq!(g.target.by.to_string(), "2026-04-27");
        assert_eq!(g.thresholds, Thresholds::default());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let mut extra = valid();
        extra["colour"] = serde_json::json!("red");
        assert_eq!(goal(extra).unwrap_err().field, "colour");
        let mut early = valid();
        early["target"]["by"] = serde_json::json!("2026-01-01");
        assert_eq!(goal(early).unwrap_err().field, "target.by");
        let mut none = valid();
        none["content"] = serde_json::json!({});
        assert_eq!(goal(none).unwrap_err().field, "content");
        let mut bad_date = valid();
        bad_date["launch_date"] = serde_json::json!("next tuesday");
        assert!(goal(bad_date).is_err());
    }

    #[test]
    fn tickets_match_on_any_listed_tag_case_insensitively() {
        let selection = TicketSelection { tags: vec!["Install".into()], ..TicketSelection::default() };
        let ticket = |tags: &[&str]| TicketRow {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..TicketRow::default()
        };
        assert!(selection.matches(&ticket(&["windows", "install"])));
        assert!(!selection.matches(&ticket(&["billing"])));
    }
}
