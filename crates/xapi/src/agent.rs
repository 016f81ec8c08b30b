use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::ValidationError;
use crate::validate;

/// The identity of an Agent or identified Group: its Inverse Functional Identifier in one
/// canonical string (`mbox:mailto:a@example.com`, `mbox_sha1sum:<hex>`, `openid:<iri>`,
/// `account:<homePage> <name>`). Two actors are the same actor when their keys are equal
/// (xAPI 1.0.3 Data §2.4.2: equal when the same IFI is used). The `mbox` scheme and domain
/// and the `mbox_sha1sum` hex are case-insensitive, so they are lowercased in the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentKey(String);

impl AgentKey {
    /// A key from its canonical text (as [`AgentKey::as_str`] gives it), for keys kept
    /// elsewhere, such as rollups.
    pub fn from_canonical(text: String) -> AgentKey {
        AgentKey(text)
    }

    /// The key of an Agent or Group object, or `None` for an anonymous Group.
    /// The object is assumed valid (it passed statement or parameter validation).
    pub fn of(actor: &Map<String, Value>) -> Option<AgentKey> {
        if let Some(Value::String(mbox)) = actor.get("mbox") {
            return Some(AgentKey(format!("mbox:{}", canonical_mbox(mbox))));
        }
        if let Some(Value::String(sha)) = actor.get("mbox_sha1sum") {
            return Some(AgentKey(format!("mbox_sha1sum:{}", sha.to_ascii_lowercase())));
        }
        if let Some(Value::String(openid)) = actor.get("openid") {
            return Some(AgentKey(format!("openid:{openid}")));
        }
        if let Some(Value::Object(account)) = actor.get("account") {
            let home = account.get("homePage").and_then(Value::as_str).unwrap_or_default();
            let name = account.get("name").and_then(Value::as_str).unwrap_or_default();
            // A space cannot appear in an IRI, so it separates homePage from name unambiguously.
            return Some(AgentKey(format!("account:{home} {name}")));
        }
        None
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An `mbox` in the form used for comparison: the `mailto:` scheme and the domain of the
/// address lowercased, since both are case-insensitive (xAPI 1.0.3 Data §2.4.2.3, §2.3.1);
/// the local part is kept as written.
pub(crate) fn canonical_mbox(mbox: &str) -> Cow<'_, str> {
    let Some(address) = mbox.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")).map(|_| &mbox[7..])
    else {
        return Cow::Borrowed(mbox);
    };
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Cow::Borrowed(mbox);
    };
    if mbox.starts_with("mailto:") && !domain.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(mbox)
    } else {
        Cow::Owned(format!("mailto:{local}@{}", domain.to_ascii_lowercase()))
    }
}

/// Parses the `agent` query parameter (a JSON Agent or identified Group) and returns its key.
/// The error names the parameter and the broken rule.
pub fn parse_agent_param(text: &str) -> Result<AgentKey, ValidationError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ValidationError::new("agent", format!("must be a JSON object: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(ValidationError::new("agent", "must be a JSON object"));
    };
    validate::agent_or_group(&value, crate::Version::V1_0).map_err(|e| e.within("agent"))?;
    AgentKey::of(map).ok_or_else(|| {
        ValidationError::new(
            "agent",
            "must identify an Agent or Group by mbox, mbox_sha1sum, openid or account",
        )
    })
}

/// The agents of an `authority`: the Agent itself, or a Group and its members (xAPI 1.0.3
/// Data §2.4.9: a client acting for a user makes a two-member Group).
pub fn authority_agents(authority: &Value) -> Vec<AgentKey> {
    let Some(object) = authority.as_object() else { return Vec::new() };
    let members = object.get("member").and_then(Value::as_array).into_iter().flatten();
    AgentKey::of(object)
        .into_iter()
        .chain(members.filter_map(|m| m.as_object().and_then(AgentKey::of)))
        .collect()
}
