use serde_json::{Map, Value};
use uuid::Uuid;

use crate::agent::AgentKey;
use crate::{Timestamp, ValidationError, Version, validate};

/// A statement that passed validation, normalised for storage, with the facts the store
/// indexes. It holds only what the client sent; the LRS's own properties are added by
/// [`Statement::finalize`] once the store has assigned them.
#[derive(Clone, Debug)]
pub struct Statement {
    json: Map<String, Value>,
    id: Option<Uuid>,
    facts: IndexFacts,
}

/// What the store indexes about a statement so that every query filter is a lookup
/// (DESIGN.md: "Query by index, not by scanning JSON").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexFacts {
    /// `verb.id`.
    pub verb: String,
    /// `context.registration`.
    pub registration: Option<Uuid>,
    /// Agents and identified Groups that are the actor or the object (the `agent` filter).
    pub agents: Vec<AgentKey>,
    /// Every agent the `related_agents` filter matches, except the authority, which the
    /// store adds because the LRS sets it.
    pub related_agents: Vec<AgentKey>,
    /// The object's Activity id (the `activity` filter).
    pub activities: Vec<String>,
    /// Every Activity id the `related_activities` filter matches.
    pub related_activities: Vec<String>,
    /// The target of a StatementRef object.
    pub statement_ref: Option<Uuid>,
    /// The statement this one voids, when its verb is `voided`.
    pub voids: Option<Uuid>,
}

/// Parses a request body holding one statement or an array of statements.
/// Errors inside an array carry the statement's index (`[2].verb.id`).
pub fn parse_statements(body: &[u8], version: Version) -> Result<Vec<Statement>, ValidationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationError::new("", format!("request body is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ValidationError::new("", "the statement array is empty"));
            }
            let statements = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| Statement::parse(item, version).map_err(|e| e.within(&format!("[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?;
            // A batch cannot hold the same statement id twice (xAPI 2.0.0 4.1.6.1; under 1.0.3
            // the second would conflict with the first within one all-or-nothing write).
            let mut seen = std::collections::HashMap::with_capacity(statements.len());
            for (i, statement) in statements.iter().enumerate() {
                let Some(id) = statement.id else { continue };
                if let Some(first) = seen.insert(id, i) {
                    return Err(ValidationError::new(
                        format!("[{i}].id"),
                        format!("repeats the id of statement [{first}]; ids must be unique within a batch"),
                    ));
                }
            }
            Ok(statements)
        }
        single => Ok(vec![Statement::parse(single, version)?]),
    }
}

impl Statement {
    /// Validates one statement and normalises it (contextActivities become arrays, as the
    /// LRS must return them: xAPI 1.0.3 Data §2.4.6.2).
    pub fn parse(value: Value, version: Version) -> Result<Statement, ValidationError> {
        validate::statement(&value, version)?;
        let Value::Object(mut json) = value else {
            return Err(ValidationError::new("", "a statement must be a JSON object"));
        };
        normalise(&mut json);
        let id = json.get("id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let facts = IndexFacts::of(&json);
        Ok(Statement { json, id, facts })
    }

    /// The id the client gave, if any.
    pub fn id(&self) -> Option<Uuid> {
        self.id
    }

    pub fn facts(&self) -> &IndexFacts {
        &self.facts
    }

    /// The statement as received (normalised), without LRS properties.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }

    /// The statement as the LRS stores and returns it, as JSON text: the client's
    /// properties plus `id`, `stored`, `authority` (always the credential's: xAPI 1.0.3
    /// Data §2.4.9), `version` and `timestamp` (set to `stored` when absent).
    pub fn finalize(&self, id: Uuid, stored: Timestamp, authority: &Value, version: Version) -> String {
        self.draft(id, authority, version).finish(stored)
    }

    /// The stored text with `stored` left blank ([`Draft::finish`] fills it in): all the
    /// serialising happens before the store takes its write lock, which only `stored`
    /// depends on. The client's properties stay where they were (the LRS's `id`,
    /// `stored` and `authority` replacing the client's), then come those it left out.
    pub fn draft(&self, id: Uuid, authority: &Value, version: Version) -> Draft {
        let id = Value::String(id.to_string());
        let mut draft = Draft { text: Vec::with_capacity(1024), blanks: Vec::with_capacity(2) };
        draft.text.push(b'{');
        for (key, value) in &self.json {
            match key.as_str() {
                "id" => draft.entry(key, &id),
                "stored" => draft.blank_entry(key),
                "authority" => draft.entry(key, authority),
                _ => draft.entry(key, value),
            }
        }
        let absent = |key: &str| !self.json.contains_key(key);
        if absent("id") {
            draft.entry("id", &id);
        }
        if absent("timestamp") {
            draft.blank_entry("timestamp");
        }
        if absent("stored") {
            draft.blank_entry("stored");
        }
        if absent("authority") {
            draft.entry("authority", authority);
        }
        if absent("version") {
            draft.entry("version", &Value::from(version.default_statement_version()));
        }
        draft.text.push(b'}');
        draft
    }
}

/// A statement's stored JSON text but for the `stored` time (and `timestamp`, when the
/// client gave none, which takes the same value).
#[derive(Clone, Debug, Default)]
pub struct Draft {
    text: Vec<u8>,
    /// Where a blank time starts, in order.
    blanks: Vec<usize>,
}

/// A blank as wide as [`Timestamp::to_rfc3339`]'s text.
const BLANK_TIME: &[u8] = b"0000-00-00T00:00:00.000Z";

impl Draft {
    /// The stored text, with `stored` written into its blanks.
    pub fn finish(mut self, stored: Timestamp) -> String {
        let time = stored.to_rfc3339();
        // From the last blank back, so a time of another width cannot move the others.
        for &at in self.blanks.iter().rev() {
            self.text.splice(at..at + BLANK_TIME.len(), time.bytes());
        }
        String::from_utf8(self.text).expect("serde_json writes UTF-8 and the time is ASCII")
    }

    fn separator(&mut self, key: &str) {
        if self.text.len() > 1 {
            self.text.push(b',');
        }
        serde_json::to_writer(&mut self.text, key).expect("writing to memory cannot fail");
        self.text.push(b':');
    }

    fn entry(&mut self, key: &str, value: &Value) {
        self.separator(key);
        serde_json::to_writer(&mut self.text, value).expect("writing to memory cannot fail");
    }

    fn blank_entry(&mut self, key: &str) {
        self.separator(key);
        self.text.push(b'"');
        self.blanks.push(self.text.len());
        self.text.extend_from_slice(BLANK_TIME);
        self.text.push(b'"');
    }
}

fn normalise(json: &mut Map<String, Value>) {
    if let Some(Value::Object(context)) = json.get_mut("context")
        && let Some(Value::Object(activities)) = context.get_mut("contextActivities")
    {
        for list in activities.values_mut() {
            if list.is_object() {
                *list = Value::Array(vec![list.take()]);
            }
        }
    }
    if let Some(Value::Object(object)) = json.get_mut("object")
        && object.get("objectType").and_then(Value::as_str) == Some("SubStatement")
    {
        normalise(object);
    }
}

impl IndexFacts {
    /// The facts of a statement JSON object (as received or as stored).
    pub fn of(json: &Map<String, Value>) -> IndexFacts {
        let mut facts = IndexFacts {
            verb: json
                .get("verb")
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            registration: json
                .get("context")
                .and_then(|c| c.get("registration"))
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok()),
            ..IndexFacts::default()
        };
        if let Some(Value::Object(actor)) = json.get("actor") {
            facts.add_actor(actor, true);
        }
        if let Some(Value::Object(object)) = json.get("object") {
            match object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
                "Agent" | "Group" => facts.add_actor(object, true),
                "StatementRef" => {
                    let target =
                        object.get("id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
                    facts.statement_ref = target;
                    facts.voids = crate::voided_target(json);
                }
                "SubStatement" => facts.add_sub_statement(object),
                _ => {
                    if let Some(id) = object.get("id").and_then(Value::as_str) {
                        facts.activities.push(id.to_string());
                        facts.related_activities.push(id.to_string());
                    }
                }
            }
        }
        if let Some(Value::Object(context)) = json.get("context") {
            facts.add_context(context);
        }
        facts.agents.sort();
        facts.agents.dedup();
        facts.related_agents.sort();
        facts.related_agents.dedup();
        facts.related_activities.sort();
        facts.related_activities.dedup();
        facts
    }

    /// Records an Agent or Group; a Group's members count as the Group's appearances too.
    fn add_actor(&mut self, actor: &Map<String, Value>, direct: bool) {
        let mut keys: Vec<AgentKey> = AgentKey::of(actor).into_iter().collect();
        if let Some(Value::Array(members)) = actor.get("member") {
            keys.extend(members.iter().filter_map(Value::as_object).filter_map(AgentKey::of));
        }
        if direct {
            self.agents.extend(keys.iter().cloned());
        }
        self.related_agents.extend(keys);
    }

    fn add_context(&mut self, context: &Map<String, Value>) {
        for key in ["instructor", "team"] {
            if let Some(Value::Object(agent)) = context.get(key) {
                self.add_actor(agent, false);
            }
        }
        // xAPI 2.0.0 contextAgents / contextGroups are related agents too.
        for key in ["contextAgents", "contextGroups"] {
            for entry in context.get(key).and_then(Value::as_array).into_iter().flatten() {
                let field = if key == "contextAgents" { "agent" } else { "group" };
                if let Some(Value::Object(agent)) = entry.get(field) {
                    self.add_actor(agent, false);
                }
            }
        }
        if let Some(Value::Object(lists)) = context.get("contextActivities") {
            for list in lists.values() {
                for activity in list.as_array().into_iter().flatten() {
                    if let Some(id) = activity.get("id").and_then(Value::as_str) {
                        self.related_activities.push(id.to_string());
                    }
                }
            }
        }
    }

    fn add_sub_statement(&mut self, sub: &Map<String, Value>) {
        if let Some(Value::Object(actor)) = sub.get("actor") {
            self.add_actor(actor, false);
        }
        if let Some(Value::Object(object)) = sub.get("object") {
            match object.get("objectType").and_then(Value::as_str).unwrap_or("Activity") {
                "Agent" | "Group" => self.add_actor(object, false),
                "StatementRef" => {}
                _ => {
                    if let Some(id) = object.get("id").and_then(Value::as_str) {
                        self.related_activities.push(id.to_string());
                    }
                }
            }
        }
        if let Some(Value::Object(context)) = sub.get("context") {
            self.add_context(context);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finalize_replaces_the_lrs_properties_in_place_and_appends_the_missing_ones() {
        let statement = Statement::parse(
            json!({
                "authority": {"mbox": "mailto:claimed@example.com"},
                "actor": {"mbox": "mailto:a@example.com"},
                "verb": {"id": "http://example.com/verbs/did"},
                "object": {"id": "http://example.com/activities/a"},
                "version": "1.0.1"
            }),
            Version::V1_0,
        )
        .unwrap();
        let id = Uuid::new_v4();
        let stored = Timestamp::from_micros(1_700_000_000_123_000);
        let authority =
            json!({"objectType": "Agent", "account": {"homePage": "https://tally.invalid", "name": "k"}});
        let text = statement.finalize(id, stored, &authority, Version::V1_0);
        let json: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = json.keys().map(String::as_str).collect();
        assert_eq!(keys, ["authority", "actor", "verb", "object", "version", "id", "timestamp", "stored"]);
        assert_eq!(json["authority"], authority);
        assert_eq!(json["version"], "1.0.1");
        assert_eq!(json["id"], id.to_string());
        assert_eq!(json["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(json["stored"], json["timestamp"]);
    }

    #[test]
    fn a_draft_is_the_stored_text_once_stored_is_filled_in() {
        let statement = Statement::parse(
            json!({
                "actor": {"mbox": "mailto:a@example.com", "name": "\"Zoë\" \\ <ann>"},
                "stored": "2001-01-01T00:00:00.000Z",
                "verb": {"id": "http://example.com/verbs/did", "display": {"en-US": "did"}},
                "object": {"id": "http://example.com/activities/a"}
            }),
            Version::V2_0,
        )
        .unwrap();
        let id = Uuid::new_v4();
        let authority = json!({"objectType": "Agent", "mbox": "mailto:lrs@example.com"});
        let stored = Timestamp::from_micros(1_700_000_000_123_000);
        let text = statement.draft(id, &authority, Version::V2_0).finish(stored);
        let json: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = json.keys().map(String::as_str).collect();
        assert_eq!(keys, ["actor", "stored", "verb", "object", "id", "timestamp", "authority", "version"]);
        assert_eq!(json["stored"], "2023-11-14T22:13:20.123Z", "the client's stored is replaced in place");
        assert_eq!(json["timestamp"], json["stored"]);
        assert_eq!(json["actor"]["name"], "\"Zoë\" \\ <ann>");
        assert_eq!(json["version"], "2.0.0");
        assert!(!text.contains("0000-00-00"), "a blank is left: {text}");
    }
}
