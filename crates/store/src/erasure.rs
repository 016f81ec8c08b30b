//! Erasing a person (the GDPR's right to erasure), worked out without I/O and shared by
//! both backends: who the person is in every identifier form, which statements are theirs
//! (removed) and which only mention them (rewritten, each appearance replaced by a
//! pseudonym that cannot be linked back), and the search terms a backend finds candidates
//! by. A backend runs the whole erasure in one transaction under the store's write lock.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;
use xapi::AgentKey;

use crate::StoreError;
use crate::copy::{Cell, Kind};
use crate::keys::digest;
use crate::model::StoreId;
use crate::removal::{attachment_hashes, delete_statement, drop_unnamed_attachment};
use crate::tx::{Transaction, int, text};

/// The `homePage` of every pseudonym account: a reserved name (RFC 2606), so it cannot be
/// anyone's real account.
pub const PSEUDONYM_HOME_PAGE: &str = "https://tally.invalid/erased";

/// A person, in every identifier form that counts as them: any letter case of each mailbox,
/// the SHA-1 of each mailbox (as written, lowercased, and with the domain lowercased),
/// openids and accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    /// Mailboxes, lowercased, without `mailto:`.
    mailboxes: BTreeSet<String>,
    /// `mbox_sha1sum` values, lowercase hex.
    sha1s: BTreeSet<String>,
    openids: BTreeSet<String>,
    /// (homePage, name).
    accounts: BTreeSet<(String, String)>,
}

impl Person {
    /// The person an `agent` parameter names: an Agent (or identified Group) as xAPI
    /// writes one, or a Person object as the agents resource answers it (arrays of
    /// `mbox`, `mbox_sha1sum`, `openid` and `account`), to name all of someone's forms at
    /// once. The error names the property and the rule.
    pub fn parse(text: &str) -> Result<Person, StoreError> {
        let invalid = |path: &str, rule: &str| StoreError::invalid(format!("agent{path}"), rule);
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid("", &format!("must be a JSON object: {e}")))?;
        let Value::Object(object) = value else { return Err(invalid("", "must be a JSON object")) };
        let mut person = Person::default();
        if object.get("objectType").and_then(Value::as_str) == Some("Person") {
            for (property, values) in &object {
                let Some(values) = values.as_array() else { continue };
                for (i, value) in values.iter().enumerate() {
                    let path = format!(".{property}[{i}]");
                    person.add(property, value).map_err(|rule| invalid(&path, rule))?;
                }
            }
        } else {
            xapi::parse_agent_param(text).map_err(|e| StoreError::invalid(e.path, e.message))?;
            for property in ["mbox", "mbox_sha1sum", "openid", "account"] {
                if let Some(value) = object.get(property) {
                    person.add(property, value).map_err(|rule| invalid(&format!(".{property}"), rule))?;
                }
            }
        }
        if person.is_empty() {
            return Err(invalid("", "must identify someone by mbox, mbox_sha1sum, openid or account"));
        }
        Ok(person)
    }

    fn add(&mut self, property: &str, value: &Value) -> Result<(), &'static str> {
        match (property, value) {
            ("mbox", Value::String(mbox)) => {
                let address = mbox.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map(|_| &mbox[7..]);
                let address = address.filter(|a| a.contains('@')).ok_or("must be a mailto: IRI")?;
                for written in [format!("mailto:{address}"), mbox.to_string(), canonical_mbox(address)] {
                    for form in [written.to_ascii_lowercase(), written] {
                        self.sha1s.insert(hex_sha1(&form));
                    }
                }
                self.mailboxes.insert(address.to_lowercase());
            }
            ("mbox_sha1sum", Value::String(sha))
                if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                self.sha1s.insert(sha.to_ascii_lowercase());
            }
            ("mbox_sha1sum", _) => return Err("must be 40 hexadecimal digits"),
            ("openid", Value::String(openid)) => {
                self.openids.insert(openid.clone());
            }
            ("account", Value::Object(account)) => {
                let field = |name: &str| account.get(name).and_then(Value::as_str).map(str::to_string);
                let (Some(home), Some(name)) = (field("homePage"), field("name")) else {
                    return Err("must have a homePage and a name");
                };
                self.accounts.insert((home, name));
            }
            ("objectType" | "name", _) => {}
            (_, _) => return Err("is not an identifier of a person (mbox, mbox_sha1sum, openid or account)"),
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.mailboxes.is_empty()
            && self.sha1s.is_empty()
            && self.openids.is_empty()
            && self.accounts.is_empty()
    }

    /// Whether an Agent or Group object is identified as this person.
    pub fn is(&self, agent: &Map<String, Value>) -> bool {
        let text = |name: &str| agent.get(name).and_then(Value::as_str);
        if let Some(mbox) = text("mbox") {
            let address = mbox.get(7..).unwrap_or_default();
            return mbox.len() > 7
                && mbox[..7].eq_ignore_ascii_case("mailto:")
                && self.mailboxes.contains(&address.to_lowercase());
        }
        if let Some(sha) = text("mbox_sha1sum") {
            return self.sha1s.contains(&sha.to_ascii_lowercase());
        }
        if let Some(openid) = text("openid") {
            return self.openids.contains(openid);
        }
        if let Some(Value::Object(account)) = agent.get("account") {
            let field =
                |name: &str| account.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            return self.accounts.contains(&(field("homePage"), field("name")));
        }
        false
    }

    /// Whether an agent key (as [`AgentKey::as_str`] writes it, or lowercased, as ticket
    /// requester keys are kept) is this person's.
    pub fn has_key(&self, key: &str) -> bool {
        let Some((form, value)) = key.split_once(':') else { return false };
        match form.to_ascii_lowercase().as_str() {
            "mbox" => value
                .get(..7)
                .filter(|s| s.eq_ignore_ascii_case("mailto:"))
                .is_some_and(|_| self.mailboxes.contains(&value[7..].to_lowercase())),
            "mbox_sha1sum" => self.sha1s.contains(&value.to_ascii_lowercase()),
            "openid" => self.openids.iter().any(|o| o == value || o.to_lowercase() == value),
            "account" => {
                let Some((home, name)) = value.split_once(' ') else { return false };
                self.accounts.iter().any(|(h, n)| {
                    (h == home && n == name) || (h.to_lowercase() == home && n.to_lowercase() == name)
                })
            }
            _ => false,
        }
    }

    /// Lowercase texts that any JSON or column naming this person contains: what a backend
    /// finds candidate rows by (`lower(column) LIKE`), before [`Person::is`] decides.
    pub fn terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = self.mailboxes.iter().cloned().collect();
        terms.extend(self.sha1s.iter().cloned());
        terms.extend(self.openids.iter().map(|o| o.to_lowercase()));
        terms.extend(self.accounts.iter().map(|(_, name)| name.to_lowercase()));
        terms
    }

    /// Whether a text mentions the person (any term, in any letter case).
    pub fn is_mentioned_in(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.terms().iter().any(|t| lower.contains(t.as_str()))
    }
}

/// `LIKE` patterns (with `\` as the escape) matching a lowercased text containing any of
/// the terms.
pub(crate) fn like_patterns(terms: &[String]) -> Vec<String> {
    terms
        .iter()
        .map(|t| {
            let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect()
}

/// `(lower(column) LIKE $n ESCAPE '\' OR …)` over parameters `$first…`, one per pattern.
pub(crate) fn any_like(column: &str, first: usize, patterns: usize) -> String {
    let tests: Vec<String> =
        (0..patterns).map(|i| format!("lower({column}) LIKE ${} ESCAPE '\\'", first + i)).collect();
    format!("({})", tests.join(" OR "))
}

fn canonical_mbox(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("mailto:{local}@{}", domain.to_ascii_lowercase()),
        None => format!("mailto:{address}"),
    }
}

fn hex_sha1(text: &str) -> String {
    Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The account an erased person's appearances become: random, the same for every
/// appearance and ticket of one erasure, kept nowhere beside the person.
#[derive(Clone, Debug)]
pub struct Pseudonym {
    agent: Value,
    key: AgentKey,
}

impl Pseudonym {
    pub fn new() -> Pseudonym {
        let agent = json!({
            "objectType": "Agent",
            "account": { "homePage": PSEUDONYM_HOME_PAGE, "name": Uuid::new_v4().to_string() }
        });
        let key = AgentKey::of(agent.as_object().expect("an object")).expect("an account identifies");
        Pseudonym { agent, key }
    }

    pub fn agent(&self) -> &Value {
        &self.agent
    }

    pub fn key(&self) -> &AgentKey {
        &self.key
    }

    /// What a ticket's requester becomes.
    pub fn requester(&self) -> String {
        self.agent["account"]["name"].as_str().expect("a name").to_string()
    }
}

impl Default for Pseudonym {
    fn default() -> Self {
        Pseudonym::new()
    }
}

/// What becomes of one statement that mentions the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementFate {
    /// The person is its actor (or the only member of its anonymous Group actor).
    Removed,
    /// The person appears in it otherwise; the new body, each appearance replaced.
    Rewritten(String),
    /// The candidate does not name the person as an agent anywhere.
    Untouched,
}

/// What erasing the person does to a statement, and the agent keys of the person it
/// held (their index rows are rewritten too).
pub fn fate(
    person: &Person,
    pseudonym: &Pseudonym,
    body: &str,
    keys: &mut BTreeSet<String>,
) -> StatementFate {
    let Ok(Value::Object(mut statement)) = serde_json::from_str::<Value>(body) else {
        return StatementFate::Untouched;
    };
    let owned = statement.get("actor").and_then(Value::as_object).is_some_and(|actor| is_only(person, actor));
    let mut replaced = 0;
    for value in statement.values_mut() {
        replaced += replace_appearances(person, pseudonym, value, keys);
    }
    if owned {
        StatementFate::Removed
    } else if replaced > 0 {
        StatementFate::Rewritten(Value::Object(statement).to_string())
    } else {
        StatementFate::Untouched
    }
}

/// Whether an actor is the person: identified as them, or an anonymous Group whose every
/// member is them.
fn is_only(person: &Person, actor: &Map<String, Value>) -> bool {
    if person.is(actor) {
        return true;
    }
    let anonymous = AgentKey::of(actor).is_none();
    let members = actor.get("member").and_then(Value::as_array);
    anonymous
        && members
            .is_some_and(|m| !m.is_empty() && m.iter().all(|m| m.as_object().is_some_and(|m| person.is(m))))
}

/// Replaces, anywhere in a JSON value, each Agent or Group object identified as the person
/// by the pseudonym; answers how many it replaced, and records their keys.
fn replace_appearances(
    person: &Person,
    pseudonym: &Pseudonym,
    value: &mut Value,
    keys: &mut BTreeSet<String>,
) -> usize {
    match value {
        Value::Object(object) if person.is(object) => {
            if let Some(key) = AgentKey::of(object) {
                keys.insert(key.as_str().to_string());
            }
            *value = pseudonym.agent().clone();
            1
        }
        Value::Object(object) => {
            object.values_mut().map(|v| replace_appearances(person, pseudonym, v, keys)).sum()
        }
        Value::Array(items) => {
            items.iter_mut().map(|v| replace_appearances(person, pseudonym, v, keys)).sum()
        }
        _ => 0,
    }
}

/// Erases the person from a store in the backend's open transaction (holding the store's
/// write lock): the backend commits it, or rolls it back for a dry run, which answers the
/// same counts.
pub(crate) async fn erase<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    person: &Person,
) -> Result<ErasureReport, StoreError> {
    let pseudonym = Pseudonym::new();
    let mut report = ErasureReport::default();
    let patterns = like_patterns(&person.terms());
    let store_cell = || Cell::Int(store.get());
    let with_patterns =
        |first: Vec<Cell>| first.into_iter().chain(patterns.iter().cloned().map(Cell::Text)).collect();

    // Statements: the person's are removed, the others that name them rewritten.
    let candidates = tx
        .query(
            &format!(
                "SELECT seq, body FROM statements WHERE store_id = $1 AND {}",
                any_like("body", 2, patterns.len())
            ),
            with_patterns(vec![store_cell()]),
            &[Kind::Int, Kind::Text],
        )
        .await?;
    let mut keys = BTreeSet::new();
    let (mut removed, mut hashes) = (BTreeSet::new(), BTreeSet::new());
    for row in &candidates {
        let (seq, body) = (int(&row[0]), text(&row[1]));
        match fate(person, &pseudonym, body, &mut keys) {
            StatementFate::Removed => {
                delete_statement(tx, store, seq, body).await?;
                hashes.extend(attachment_hashes(body));
                removed.insert(seq);
                report.removed.statements += 1;
            }
            StatementFate::Rewritten(body) => {
                report.remaining_mentions += u64::from(person.is_mentioned_in(&body));
                tx.execute(
                    "UPDATE statements SET body = $3 WHERE store_id = $1 AND seq = $2",
                    vec![store_cell(), Cell::Int(seq), Cell::Text(body)],
                )
                .await?;
                report.replaced.statements += 1;
            }
            StatementFate::Untouched => report.remaining_mentions += 1,
        }
    }

    // Index rows of the person's keys, own or inherited through a StatementRef: gone with
    // removed statements, the pseudonym's on every other. (Rows a removed statement
    // inherited from its target's other keys stay behind with no statement to join; no
    // query answers them, and they hold nothing of the person.)
    let pseudonym_key = digest(pseudonym.key().as_str());
    for key in &keys {
        let key = digest(key);
        let rows = tx
            .query(
                "SELECT seq, CAST(kinds AS BIGINT) FROM statement_index WHERE store_id = $1 AND key = $2",
                vec![store_cell(), Cell::Int(key)],
                &[Kind::Int, Kind::Int],
            )
            .await?;
        report.removed.index_rows += tx
            .execute(
                "DELETE FROM statement_index WHERE store_id = $1 AND key = $2",
                vec![store_cell(), Cell::Int(key)],
            )
            .await?;
        for row in rows.iter().filter(|r| !removed.contains(&int(&r[0]))) {
            tx.execute(
                "INSERT INTO statement_index (store_id, key, seq, kinds) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (store_id, key, seq) DO UPDATE SET kinds = statement_index.kinds | excluded.kinds",
                vec![store_cell(), Cell::Int(pseudonym_key), row[0].clone(), row[1].clone()],
            )
            .await?;
        }
    }

    // Attachments no remaining statement names.
    for sha2 in hashes {
        report.removed.attachments += u64::from(drop_unnamed_attachment(tx, store, &sha2, 0, false).await?);
    }

    // State and agent-profile documents kept under one of the person's keys.
    let agents = tx
        .query(
            "SELECT DISTINCT agent FROM documents WHERE store_id = $1 AND kind IN (1, 3) AND agent <> ''",
            vec![store_cell()],
            &[Kind::Text],
        )
        .await?;
    for agent in agents.iter().map(|r| text(&r[0])).filter(|a| person.has_key(a)) {
        report.removed.documents += tx
            .execute(
                "DELETE FROM documents WHERE store_id = $1 AND kind IN (1, 3) AND agent = $2",
                vec![store_cell(), Cell::Text(agent.to_string())],
            )
            .await?;
    }

    // Tickets stay, the support team's records, without the link to the person.
    let tickets = tx
        .query(
            &format!(
                "SELECT source, external_id, requester, requester_keys, subject FROM tickets \
                 WHERE store_id = $1 AND ({} OR {} OR {})",
                any_like("requester", 2, patterns.len()),
                any_like("requester_keys", 2, patterns.len()),
                any_like("subject", 2, patterns.len())
            ),
            with_patterns(vec![store_cell()]),
            &[Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Text],
        )
        .await?;
    for ticket in &tickets {
        let requested = person.is_mentioned_in(text(&ticket[2]))
            || text(&ticket[3]).split(' ').any(|key| person.has_key(key));
        report.remaining_mentions += u64::from(person.is_mentioned_in(text(&ticket[4])));
        if requested {
            tx.execute(
                "UPDATE tickets SET requester = $4, requester_keys = $5 \
                 WHERE store_id = $1 AND source = $2 AND external_id = $3",
                vec![
                    store_cell(),
                    ticket[0].clone(),
                    ticket[1].clone(),
                    Cell::Text(pseudonym.requester()),
                    Cell::Text(pseudonym.key().as_str().to_lowercase()),
                ],
            )
            .await?;
            report.replaced.tickets += 1;
        }
    }

    // Credentials acting for the person: revoked, and acting for nobody that can be named.
    let acting = tx
        .query(
            "SELECT key, acts_for FROM credentials WHERE store_id = $1 AND acts_for IS NOT NULL",
            vec![store_cell()],
            &[Kind::Text, Kind::Text],
        )
        .await?;
    for credential in &acting {
        let acts_for: Value = serde_json::from_str(text(&credential[1])).unwrap_or(Value::Null);
        if acts_for.as_object().is_some_and(|agent| is_only(person, agent)) {
            tx.execute(
                "UPDATE credentials SET revoked = $2, acts_for = $3 WHERE key = $1",
                vec![credential[0].clone(), Cell::Bool(true), Cell::Text(pseudonym.agent().to_string())],
            )
            .await?;
            report.replaced.credentials += 1;
        }
    }

    // The rollups hold the person's contributions: the engine rebuilds them from what remains.
    tx.execute("UPDATE stores SET rollup_epoch = rollup_epoch + 1 WHERE id = $1", vec![store_cell()]).await?;
    Ok(report)
}

/// What an erasure removed and replaced, per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    pub dry_run: bool,
    pub removed: Removed,
    pub replaced: Replaced,
    /// Statements and tickets that still contain one of the person's identifiers outside
    /// an agent (free text, an extension's string): the operator's to review.
    pub remaining_mentions: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub statements: u64,
    /// State and agent-profile documents of the person.
    pub documents: u64,
    /// Attachments only removed statements referenced.
    pub attachments: u64,
    /// Index rows of the person's agent keys on removed statements and elsewhere.
    pub index_rows: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Replaced {
    /// Statements that remain with the person replaced by the pseudonym.
    pub statements: u64,
    /// Tickets whose requester is now the pseudonym.
    pub tickets: u64,
    /// Credentials that acted for the person: revoked, and now acting for the pseudonym.
    pub credentials: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(agent: Value) -> Person {
        Person::parse(&agent.to_string()).unwrap()
    }

    #[test]
    fn a_mailbox_counts_in_any_letter_case_and_as_its_sha1() {
        let ann = person(json!({ "mbox": "mailto:Ann@Example.com" }));
        assert!(ann.is(json!({ "mbox": "mailto:ann@example.COM" }).as_object().unwrap()));
        assert!(ann.is(json!({ "mbox": "MAILTO:ANN@EXAMPLE.COM" }).as_object().unwrap()));
        let sha = hex_sha1("mailto:ann@example.com");
        assert!(ann.is(json!({ "mbox_sha1sum": sha.to_uppercase() }).as_object().unwrap()));
        assert!(!ann.is(json!({ "mbox": "mailto:bob@example.com" }).as_object().unwrap()));
        assert!(ann.has_key("mbox:mailto:ANN@example.com") && ann.has_key(&format!("mbox_sha1sum:{sha}")));
    }

    #[test]
    fn a_person_object_names_every_form_and_bad_ones_are_refused_by_path() {
        let ann = person(json!({ "objectType": "Person", "mbox": ["mailto:ann@example.com"],
            "account": [{ "homePage": "https://lms.example.com", "name": "ann42" }] }));
        assert!(
            ann.is(json!({ "account": { "homePage": "https://lms.example.com", "name": "ann42" } })
                .as_object()
                .unwrap())
        );
        let error = Person::parse(r#"{"objectType":"Person","mbox_sha1sum":["xyz"]}"#).unwrap_err();
        assert!(error.to_string().starts_with("agent.mbox_sha1sum[0]:"), "{error}");
        assert!(Person::parse(r#"{"objectType":"Person"}"#).is_err());
        assert!(Person::parse("[]").is_err());
    }

    #[test]
    fn the_persons_statements_are_removed_and_their_appearances_elsewhere_replaced() {
        let ann = person(json!({ "mbox": "mailto:ann@example.com" }));
        let pseudonym = Pseudonym::new();
        let mut keys = BTreeSet::new();
        let own = json!({ "actor": { "name": "Ann", "mbox": "mailto:ANN@example.com" }, "verb": { "id": "v" }, "object": { "id": "o" } });
        assert_eq!(fate(&ann, &pseudonym, &own.to_string(), &mut keys), StatementFate::Removed);
        let alone = json!({ "actor": { "objectType": "Group", "member": [{ "mbox": "mailto:ann@example.com" }] }, "verb": { "id": "v" }, "object": { "id": "o" } });
        assert_eq!(fate(&ann, &pseudonym, &alone.to_string(), &mut keys), StatementFate::Removed);
        let taught = json!({ "actor": { "mbox": "mailto:bob@example.com" }, "verb": { "id": "v" }, "object": { "id": "o" },
            "context": { "instructor": { "name": "Ann", "mbox": "mailto:ann@example.com" } } });
        let StatementFate::Rewritten(body) = fate(&ann, &pseudonym, &taught.to_string(), &mut keys) else {
            panic!()
        };
        assert!(
            !body.contains("ann@") && !body.contains("Ann") && body.contains(PSEUDONYM_HOME_PAGE),
            "{body}"
        );
        assert!(keys.contains("mbox:mailto:ann@example.com"));
        let other = json!({ "actor": { "mbox": "mailto:bob@example.com" }, "verb": { "id": "v" }, "object": { "id": "ann@example.com" } });
        assert_eq!(fate(&ann, &pseudonym, &other.to_string(), &mut keys), StatementFate::Untouched);
    }
}
