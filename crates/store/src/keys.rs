//! The index keys written at ingest, so every statement filter is an index lookup.

use sha2::{Digest, Sha256};
use xapi::{AgentKey, IndexFacts};

/// What an index row says about its statement. The numbers are stored: never renumber.
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

/// An index entry: a kind and the 64-bit digest of its value.
///
/// Values are hashed so every index row is a few integers wide whatever the IRI length.
/// With the first 8 bytes of SHA-256, two distinct values of one kind in one store collide
/// with probability 2^-64 per pair (about 3 in 10^8 for a million distinct values).
pub(crate) type IndexKey = (i16, i64);

pub(crate) fn key(kind: IndexKind, value: &str) -> IndexKey {
    let digest = Sha256::digest(value.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (kind as i16, i64::from_be_bytes(first))
}

/// Every index key of a statement: its own facts plus the authority the LRS gave it.
pub(crate) fn statement_keys(facts: &IndexFacts, authority: &[AgentKey]) -> Vec<IndexKey> {
    let mut keys = Vec::with_capacity(
        2 + facts.agents.len()
            + facts.related_agents.len()
            + facts.activities.len()
            + facts.related_activities.len(),
    );
    keys.push(key(IndexKind::Verb, &facts.verb));
    if let Some(registration) = facts.registration {
        keys.push(key(IndexKind::Registration, &registration.to_string()));
    }
    keys.extend(facts.agents.iter().map(|a| key(IndexKind::Agent, a.as_str())));
    keys.extend(
        facts.related_agents.iter().chain(authority).map(|a| key(IndexKind::RelatedAgent, a.as_str())),
    );
    keys.extend(authority.iter().map(|a| key(IndexKind::Authority, a.as_str())));
    keys.extend(facts.activities.iter().map(|a| key(IndexKind::Activity, a)));
    keys.extend(facts.related_activities.iter().map(|a| key(IndexKind::RelatedActivity, a)));
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_across_releases() {
        // Stored index rows depend on these exact numbers: SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(key(IndexKind::Activity, "abc"), (5, 0xba78_16bf_8f01_cfea_u64 as i64));
    }
}
