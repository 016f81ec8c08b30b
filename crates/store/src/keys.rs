//! The index keys written at ingest, so every statement filter is an index lookup.

use sha2::{Digest, Sha256};
use xapi::{AgentKey, IndexFacts};

/// How a statement holds a value. Each kind is a bit of an index row's `kinds`
/// (`1 << kind`), and the rows on disk hold those bits: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i16)]
pub(crate) enum IndexKind {
    Verb = 1,
    Registration = 2,
    /// The actor or the object (the `agent` filter).
    Agent = 3,
    /// Any agent the `related_agents` filter matches.
    RelatedAgent = 4,
    /// The object's Activity id (the `activity` filter).
    Activity = 5,
    /// Any Activity id the `related_activities` filter matches.
    RelatedActivity = 6,
    /// An agent of the statement's authority (the agent itself, or a Group's members):
    /// what `statements/read/mine` credentials may read.
    Authority = 7,
}

impl IndexKind {
    /// This kind's bit in an index row's `kinds`.
    pub(crate) const fn bit(self) -> i16 {
        1 << self as i16
    }

    /// Whether many of a value's rows may lack this kind: an agent that is mostly an
    /// instructor, an Activity that is mostly a parent. Every other kind holds (nearly)
    /// all the rows of its values, so a filter on it reads no row in vain.
    pub(crate) const fn is_sparse(self) -> bool {
        matches!(self, IndexKind::Agent | IndexKind::Activity)
    }
}

/// An index entry: the 64-bit digest of a value and the kinds (bits) a statement holds it in.
///
/// Values are hashed so every index row is a few integers wide whatever the IRI length.
/// With the first 8 bytes of SHA-256, two distinct values in one store collide with
/// probability 2^-64 per pair (about 3 in 10^8 for a million distinct values); a collision
/// between values of different kinds is told apart by the kind bits.
pub(crate) type IndexKey = (i64, i16);

/// The digest a value is indexed and looked up by.
pub(crate) fn digest(value: &str) -> i64 {
    let digest = Sha256::digest(value.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Every index key of a statement: its own facts plus the authority the LRS gave it, one
/// entry per value (the actor, say, is both `Agent` and `RelatedAgent`: one row, two bits).
pub(crate) fn statement_keys(facts: &IndexFacts, authority: &[AgentKey]) -> Vec<IndexKey> {
    let mut keys = Vec::with_capacity(
        2 + facts.agents.len()
            + facts.related_agents.len()
            + 2 * authority.len()
            + facts.activities.len()
            + facts.related_activities.len(),
    );
    let mut add = |kind: IndexKind, value: &str| keys.push((digest(value), kind.bit()));
    add(IndexKind::Verb, &facts.verb);
    if let Some(registration) = facts.registration {
        add(IndexKind::Registration, &registration.to_string());
    }
    facts.agents.iter().for_each(|a| add(IndexKind::Agent, a.as_str()));
    facts.related_agents.iter().chain(authority).for_each(|a| add(IndexKind::RelatedAgent, a.as_str()));
    authority.iter().for_each(|a| add(IndexKind::Authority, a.as_str()));
    facts.activities.iter().for_each(|a| add(IndexKind::Activity, a));
    facts.related_activities.iter().for_each(|a| add(IndexKind::RelatedActivity, a));
    merge_kinds(keys)
}

/// Entries sorted by what they index, one per distinct `what`, its kind bits OR-ed.
pub(crate) fn merge_kinds<K: Ord>(mut entries: Vec<(K, i16)>) -> Vec<(K, i16)> {
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(K, i16)> = Vec::with_capacity(entries.len());
    for (what, kinds) in entries {
        match out.last_mut() {
            Some(last) if last.0 == what => last.1 |= kinds,
            _ => out.push((what, kinds)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_kind_bits_are_stable_across_releases() {
        // Stored index rows depend on these exact numbers: SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(digest("abc"), 0xba78_16bf_8f01_cfea_u64 as i64);
        assert_eq!((IndexKind::Verb.bit(), IndexKind::Authority.bit()), (2, 128));
    }

    #[test]
    fn a_value_held_in_several_kinds_is_one_entry_with_each_kind_bit() {
        let learner =
            AgentKey::of(serde_json::json!({ "mbox": "mailto:a@example.com" }).as_object().unwrap());
        let facts = IndexFacts {
            verb: "http://example.com/verbs/did".into(),
            agents: learner.iter().cloned().collect(),
            related_agents: learner.iter().cloned().collect(),
            activities: vec!["http://example.com/a".into()],
            related_activities: vec!["http://example.com/a".into(), "http://example.com/course".into()],
            ..IndexFacts::default()
        };
        let keys = statement_keys(&facts, &[]);
        assert_eq!(keys.len(), 4, "verb, agent, activity, course: {keys:?}");
        let kinds_of = |value: &str| keys.iter().find(|k| k.0 == digest(value)).map(|k| k.1);
        assert_eq!(
            kinds_of(facts.agents[0].as_str()),
            Some(IndexKind::Agent.bit() | IndexKind::RelatedAgent.bit())
        );
        assert_eq!(
            kinds_of("http://example.com/a"),
            Some(IndexKind::Activity.bit() | IndexKind::RelatedActivity.bit())
        );
        assert_eq!(kinds_of("http://example.com/course"), Some(IndexKind::RelatedActivity.bit()));
    }
}
