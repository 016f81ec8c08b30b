//! Group-commit planning, shared by both backends and free of I/O.
//!
//! A backend gathers a group of statement batches, reads what the store already knows
//! about the ids they mention (under the store's write lock), and hands both to
//! [`plan_group`]. The plan says which batches succeed, the rows to insert, which stored
//! statements become voided and which index rows existing statements inherit. The backend
//! then writes the plan in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};
use uuid::Uuid;
use xapi::{Draft, IndexFacts, Timestamp};

use crate::StoreError;
use crate::keys::{IndexKey, merge_kinds, statement_keys};
use crate::model::{AttachmentUpload, StatementBatch, StoreId};

/// A statement already stored that the group touches: one it re-sends, one it targets
/// through a StatementRef (and that one's own targets), or one that targets it.
#[derive(Clone, Debug)]
pub(crate) struct Known {
    pub store: StoreId,
    pub seq: i64,
    pub id: Uuid,
    pub ref_id: Option<Uuid>,
    pub is_voiding: bool,
    pub voided: bool,
    pub body: String,
}

/// A store's ingest head, read under its write lock, and the `stored` time this group gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub last_seq: i64,
    /// The `stored` time of the store's last statement (zero when it has none).
    pub last_stored: Timestamp,
    pub stored: Timestamp,
}

/// A statement row to insert.
#[derive(Clone, Debug)]
pub(crate) struct NewRow {
    pub store: StoreId,
    pub seq: i64,
    pub id: Uuid,
    pub stored: Timestamp,
    pub ref_id: Option<Uuid>,
    pub is_voiding: bool,
    pub voided_by: Option<i64>,
    pub body: String,
}

/// An index row: statement `seq` of `store` holds the value digested as `key`, in the
/// kinds whose bits `kinds` has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IndexRow {
    pub store: StoreId,
    pub key: i64,
    pub seq: i64,
    pub kinds: i16,
}

/// A stored statement that a new voiding statement voids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Voiding {
    pub store: StoreId,
    pub target_seq: i64,
    pub by_seq: i64,
}

/// Activity definitions the store holds, by store and activity id.
pub(crate) type HeldDefinitions = HashMap<(StoreId, String), Map<String, Value>>;

/// An activity definition to store (insert or replace), as JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DefinitionRow {
    pub store: StoreId,
    pub activity_id: String,
    pub definition: String,
}

/// Everything one group transaction writes, and what each batch is answered.
#[derive(Debug)]
pub(crate) struct GroupWrite {
    pub outcomes: Vec<Result<Vec<Uuid>, StoreError>>,
    pub rows: Vec<NewRow>,
    /// The new statements' own index rows: their sequence numbers are new, so these
    /// cannot collide with stored rows or with each other (plain inserts, no conflict
    /// handling, which costs PostgreSQL a speculative insertion per row).
    pub index_rows: Vec<IndexRow>,
    /// Rows stored statements inherit through StatementRefs; they may already exist.
    pub inherited_index_rows: Vec<IndexRow>,
    pub voidings: Vec<Voiding>,
    /// Activity definitions that changed (xAPI 1.0.3 Communication §2.5).
    pub definitions: Vec<DefinitionRow>,
    /// The new head of every store that receives rows: (last seq, last stored).
    pub heads: BTreeMap<StoreId, (i64, Timestamp)>,
}

/// The `stored` time of the next write: the clock rounded up to the millisecond (the
/// precision `stored` is shown with, so a value a client reads back and sends as `since`
/// compares exactly), never before the last one. `stored` therefore never decreases with
/// the ingest sequence, which is what lets `since`/`until` become sequence ranges.
pub(crate) fn next_stored(now: Timestamp, last_stored: Timestamp) -> Timestamp {
    let micros = now.as_micros();
    let ceil_ms = (micros + 999).div_euclid(1_000) * 1_000;
    Timestamp::from_micros(ceil_ms.max(last_stored.as_micros()))
}

/// The instant up to which every acknowledged statement is visible, read as: the clock
/// (read first), whether a write is in flight (read second), and the last committed
/// `stored` time. A write that has not committed yet, in flight or still to come, gets a
/// `stored` time no earlier than the last committed one, nor (when none is in flight)
/// than now; it may get exactly that time, because `stored` is kept to the millisecond
/// and groups in the same millisecond share it. So the answer is one microsecond short of
/// that floor: it vouches for nothing a later commit can still add.
pub(crate) fn consistent_through(now: Timestamp, write_in_flight: bool, last_stored: Timestamp) -> Timestamp {
    let floor = if write_in_flight { last_stored } else { now.max(last_stored) };
    Timestamp::from_micros(floor.as_micros() - 1)
}

/// The attachment content of the batches that succeeded, once per store and hash.
pub(crate) fn accepted_attachments<'a>(
    batches: &'a [StatementBatch],
    outcomes: &[Result<Vec<Uuid>, StoreError>],
) -> Vec<(StoreId, &'a AttachmentUpload)> {
    let mut seen = HashSet::new();
    batches
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| outcome.is_ok())
        .flat_map(|(batch, _)| batch.attachments.iter().map(move |a| (batch.store, a)))
        .filter(|(store, a)| seen.insert((*store, a.sha2.clone())))
        .collect()
}

/// Gives every statement of a batch its id: the client's, or a new random one.
pub(crate) fn assign_ids(batch: &StatementBatch) -> Vec<Uuid> {
    batch.statements.iter().map(|s| s.id().unwrap_or_else(Uuid::new_v4)).collect()
}

/// What a statement is stored as, worked out by its request before the batch queues for
/// the group writer (none of it depends on what the store's write lock protects): its
/// body but for `stored`, and its own index keys.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    body: Draft,
    keys: Vec<IndexKey>,
}

/// Every statement of a batch [`Prepared`], in the order of `ids`.
pub(crate) fn prepare(batch: &StatementBatch, ids: &[Uuid]) -> Vec<Prepared> {
    let authority_agents = batch.authority_agents();
    batch
        .statements
        .iter()
        .zip(ids)
        .map(|(statement, id)| Prepared {
            body: statement.draft(*id, &batch.authority, batch.version),
            keys: statement_keys(statement.facts(), &authority_agents),
        })
        .collect()
}

/// The ids whose stored statements the plan needs first: every statement id of the group
/// and every StatementRef target. (Backends then follow targets' own targets and fetch
/// the statements that refer to any of these, see [`Known`].)
pub(crate) fn ids_to_look_up(batches: &[StatementBatch], ids: &[Vec<Uuid>]) -> Vec<(StoreId, Uuid)> {
    let mut wanted: Vec<(StoreId, Uuid)> = Vec::new();
    for (batch, ids) in batches.iter().zip(ids) {
        wanted.extend(ids.iter().map(|id| (batch.store, *id)));
        wanted.extend(
            batch.statements.iter().filter_map(|s| s.facts().statement_ref).map(|id| (batch.store, id)),
        );
    }
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The activities whose held definitions the plan needs: those the group defines.
pub(crate) fn activities_to_look_up(batches: &[StatementBatch]) -> Vec<(StoreId, String)> {
    let mut wanted: Vec<(StoreId, String)> = batches
        .iter()
        .flat_map(|b| {
            b.statements.iter().flat_map(move |s| {
                xapi::activity_definitions(s.json()).into_iter().map(move |(id, _)| (b.store, id.to_string()))
            })
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// Decides the group's outcome. `heads` holds the head of every store that exists (a
/// batch for any other store is answered `NotFound`); `known` holds every stored statement the backend found
/// for [`ids_to_look_up`], their StatementRef targets (transitively), and every stored
/// statement that refers to one of the group's ids (transitively).
pub(crate) fn plan_group(
    batches: &[StatementBatch],
    ids: &[Vec<Uuid>],
    mut prepared: Vec<Vec<Prepared>>,
    known: &[Known],
    held_definitions: &HeldDefinitions,
    heads: &HashMap<StoreId, Head>,
) -> GroupWrite {
    let known_by_id: HashMap<(StoreId, Uuid), &Known> = known.iter().map(|k| ((k.store, k.id), k)).collect();

    // 1. Which batches succeed, and which of their statements are new.
    let mut outcomes = Vec::with_capacity(batches.len());
    let mut accepted: Vec<(usize, usize)> = Vec::new();
    let mut pending: HashMap<(StoreId, Uuid), (usize, usize)> = HashMap::new();
    // The latest `stored` each store's new rows reach so far, and the times kept ones get.
    let mut stored_floor: HashMap<StoreId, Timestamp> =
        heads.iter().map(|(s, h)| (*s, h.last_stored)).collect();
    let mut kept_stored: HashMap<(usize, usize), Timestamp> = HashMap::new();
    for (b, batch) in batches.iter().enumerate() {
        let Some(head) = heads.get(&batch.store) else {
            outcomes.push(Err(StoreError::NotFound));
            continue;
        };
        let accepted_batch = accept_batch(batch, &ids[b], &known_by_id, &pending, batches).and_then(|new| {
            let floor = stored_floor[&batch.store];
            if !batch.keep_stored {
                let floor = if new.is_empty() { floor } else { head.stored.max(floor) };
                return Ok((new, Vec::new(), floor));
            }
            let kept = keep_stored(batch, &new, floor)?;
            let floor = kept.last().copied().unwrap_or(floor);
            Ok((new, kept, floor))
        });
        match accepted_batch {
            Ok((new, kept, floor)) => {
                stored_floor.insert(batch.store, floor);
                kept_stored.extend(new.iter().zip(kept).map(|(&j, stored)| ((b, j), stored)));
                for &j in &new {
                    pending.insert((batch.store, ids[b][j]), (b, j));
                    accepted.push((b, j));
                }
                outcomes.push(Ok(ids[b].clone()));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }

    // 2. Sequence numbers, bodies and own index keys of the new statements.
    let mut next_seq: HashMap<StoreId, i64> = heads.iter().map(|(s, h)| (*s, h.last_seq)).collect();
    let mut rows = Vec::with_capacity(accepted.len());
    let mut own_keys: HashMap<(StoreId, Uuid), Vec<IndexKey>> = HashMap::with_capacity(accepted.len());
    for &(b, j) in &accepted {
        let batch = &batches[b];
        let statement = &batch.statements[j];
        let head = heads[&batch.store];
        let seq = next_seq.entry(batch.store).or_insert(head.last_seq);
        *seq += 1;
        let id = ids[b][j];
        let Prepared { body, keys } = std::mem::take(&mut prepared[b][j]);
        let stored = kept_stored.get(&(b, j)).copied().unwrap_or(head.stored);
        let body = body.finish(stored);
        own_keys.insert((batch.store, id), keys);
        rows.push(NewRow {
            store: batch.store,
            seq: *seq,
            id,
            stored,
            ref_id: statement.facts().statement_ref,
            is_voiding: statement.facts().voids.is_some(),
            voided_by: None,
            body,
        });
    }
    let new_by_id: HashMap<(StoreId, Uuid), usize> =
        rows.iter().enumerate().map(|(i, r)| ((r.store, r.id), i)).collect();

    // 3. Voiding (xAPI 1.0.3 Data §2.3.2): a statement is voided when it is not itself a
    //    voiding statement and the LRS holds a voiding statement that targets it, whichever
    //    arrived first.
    let mut voidings = Vec::new();
    let mut voided_now: HashSet<(StoreId, Uuid)> = HashSet::new();
    for i in 0..rows.len() {
        let (store, id, is_voiding) = (rows[i].store, rows[i].id, rows[i].is_voiding);
        if is_voiding {
            continue;
        }
        let earlier =
            known.iter().filter(|k| k.store == store && k.is_voiding && k.ref_id == Some(id)).map(|k| k.seq);
        let in_group =
            rows.iter().filter(|r| r.store == store && r.is_voiding && r.ref_id == Some(id)).map(|r| r.seq);
        rows[i].voided_by = earlier.chain(in_group).min();
    }
    for row in rows.iter().filter(|r| r.is_voiding) {
        let Some(target) = row.ref_id else { continue };
        if let Some(k) = known_by_id.get(&(row.store, target))
            && !k.is_voiding
            && !k.voided
            && voided_now.insert((row.store, target))
        {
            voidings.push(Voiding { store: row.store, target_seq: k.seq, by_seq: row.seq });
        }
    }

    // 4. Index rows: each new statement's own keys, plus the keys of what it targets,
    //    because filters also return statements that target a match (Communication §2.1.3).
    let mut closure = Closure {
        known_by_id: &known_by_id,
        own_keys: &own_keys,
        new_by_id: &new_by_id,
        rows: &rows,
        cache: HashMap::new(),
    };
    let mut index_rows = Vec::new();
    for row in &rows {
        let mut keys = own_keys[&(row.store, row.id)].clone();
        if let Some(target) = row.ref_id {
            keys.extend(closure.keys(row.store, target, &mut HashSet::new()));
        }
        index_rows.extend(merge_kinds(keys).into_iter().map(|(key, kinds)| IndexRow {
            store: row.store,
            key,
            seq: row.seq,
            kinds,
        }));
    }
    //    Stored statements that already target a new statement (directly or through a
    //    chain of stored StatementRefs) inherit its keys now that it exists.
    let mut referrers: HashMap<(StoreId, Uuid), Vec<&Known>> = HashMap::new();
    for k in known {
        if let Some(target) = k.ref_id {
            referrers.entry((k.store, target)).or_default().push(k);
        }
    }
    let mut inherited: Vec<((StoreId, i64, i64), i16)> = Vec::new();
    for row in &rows {
        let keys = closure.keys(row.store, row.id, &mut HashSet::new());
        let mut seen = HashSet::new();
        let mut frontier = vec![row.id];
        while let Some(target) = frontier.pop() {
            for referrer in referrers.get(&(row.store, target)).into_iter().flatten() {
                if seen.insert(referrer.id) {
                    inherited
                        .extend(keys.iter().map(|&(key, kinds)| ((row.store, key, referrer.seq), kinds)));
                    frontier.push(referrer.id);
                }
            }
        }
    }
    // One row per referrer and value, as one upsert may not touch a row twice.
    let inherited: Vec<IndexRow> = merge_kinds(inherited)
        .into_iter()
        .map(|((store, key, seq), kinds)| IndexRow { store, key, seq, kinds })
        .collect();

    // 5. Activity definitions: each accepted statement's, merged in order into the held one.
    let mut merged: BTreeMap<(StoreId, String), Map<String, Value>> = BTreeMap::new();
    for &(b, j) in accepted.iter().filter(|(b, _)| batches[*b].define) {
        let store = batches[b].store;
        for (id, definition) in xapi::activity_definitions(batches[b].statements[j].json()) {
            let key = (store, id.to_string());
            let held = merged
                .entry(key.clone())
                .or_insert_with(|| held_definitions.get(&key).cloned().unwrap_or_default());
            xapi::merge_definition(held, definition);
        }
    }
    let definitions = merged
        .into_iter()
        .filter(|(key, definition)| held_definitions.get(key) != Some(definition))
        .map(|((store, activity_id), definition)| DefinitionRow {
            store,
            activity_id,
            definition: Value::Object(definition).to_string(),
        })
        .collect();

    let mut new_heads = BTreeMap::new();
    for row in &rows {
        new_heads.insert(row.store, (row.seq, row.stored));
    }
    GroupWrite {
        outcomes,
        rows,
        index_rows,
        inherited_index_rows: inherited,
        voidings,
        definitions,
        heads: new_heads,
    }
}

/// Checks one batch against what is stored and what earlier batches of the group add.
/// Returns the indexes of its statements that are new; a re-sent equivalent statement is
/// accepted without being stored again (idempotent retries).
fn accept_batch(
    batch: &StatementBatch,
    ids: &[Uuid],
    known: &HashMap<(StoreId, Uuid), &Known>,
    pending: &HashMap<(StoreId, Uuid), (usize, usize)>,
    batches: &[StatementBatch],
) -> Result<Vec<usize>, StoreError> {
    let mut new = Vec::with_capacity(ids.len());
    let mut seen = HashSet::with_capacity(ids.len());
    for (j, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(StoreError::invalid(
                format!("[{j}].id"),
                format!("statement id {id} appears twice in the batch"),
            ));
        }
        let candidate = batch.statements[j].json();
        if let Some(stored) = known.get(&(batch.store, *id)) {
            let stored: Map<String, Value> = serde_json::from_str(&stored.body)
                .map_err(|e| StoreError::Backend(format!("stored statement {id} is not JSON: {e}")))?;
            if !xapi::equivalent(candidate, &stored) {
                return Err(StoreError::statement_conflict(*id));
            }
        } else if let Some(&(pb, pj)) = pending.get(&(batch.store, *id)) {
            if !xapi::equivalent(candidate, batches[pb].statements[pj].json()) {
                return Err(StoreError::statement_conflict(*id));
            }
        } else {
            new.push(j);
        }
    }
    Ok(new)
}

/// The `stored` times the new statements of a batch that keeps them carry: each must be
/// given, and none earlier than the one before it nor than `floor` (the latest the store
/// holds), so that `stored` still never decreases with the ingest sequence.
fn keep_stored(
    batch: &StatementBatch,
    new: &[usize],
    mut floor: Timestamp,
) -> Result<Vec<Timestamp>, StoreError> {
    let mut kept = Vec::with_capacity(new.len());
    for &j in new {
        let path = format!("[{j}].stored");
        let stored = batch.statements[j]
            .json()
            .get("stored")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .map(|parsed| parsed.instant)
            .ok_or_else(|| {
                StoreError::invalid(&path, "a statement that keeps its stored time must carry one")
            })?;
        if stored < floor {
            return Err(StoreError::invalid(
                path,
                format!(
                    "stored {} is earlier than {}, the latest stored time this store holds: kept stored times \
                     must come in order, after everything the store holds",
                    stored.to_rfc3339(),
                    floor.to_rfc3339()
                ),
            ));
        }
        floor = stored;
        kept.push(stored);
    }
    Ok(kept)
}

/// The index keys a statement contributes to the statements that target it: its own keys
/// and, through its own StatementRef, those of its target, transitively.
struct Closure<'a> {
    known_by_id: &'a HashMap<(StoreId, Uuid), &'a Known>,
    own_keys: &'a HashMap<(StoreId, Uuid), Vec<IndexKey>>,
    new_by_id: &'a HashMap<(StoreId, Uuid), usize>,
    rows: &'a [NewRow],
    cache: HashMap<(StoreId, Uuid), Vec<IndexKey>>,
}

impl Closure<'_> {
    fn keys(&mut self, store: StoreId, id: Uuid, visiting: &mut HashSet<Uuid>) -> Vec<IndexKey> {
        if let Some(keys) = self.cache.get(&(store, id)) {
            return keys.clone();
        }
        // Client-chosen ids can form a cycle of references; stop where we started.
        if !visiting.insert(id) {
            return Vec::new();
        }
        let (mut keys, target) = if let Some(&i) = self.new_by_id.get(&(store, id)) {
            (self.own_keys[&(store, id)].clone(), self.rows[i].ref_id)
        } else if let Some(k) = self.known_by_id.get(&(store, id)) {
            (stored_keys(&k.body), k.ref_id)
        } else {
            return Vec::new();
        };
        if let Some(target) = target {
            keys.extend(self.keys(store, target, visiting));
        }
        let keys = merge_kinds(keys);
        self.cache.insert((store, id), keys.clone());
        keys
    }
}

/// The own index keys of a stored statement, recomputed from its JSON.
pub(crate) fn stored_keys(body: &str) -> Vec<IndexKey> {
    let Ok(Value::Object(json)) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let authority = json.get("authority").map(xapi::authority_agents).unwrap_or_default();
    statement_keys(&IndexFacts::of(&json), &authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rounds_up_to_the_millisecond_and_never_goes_back() {
        let t = |us| Timestamp::from_micros(us);
        assert_eq!(next_stored(t(1_000_001), t(0)), t(1_001_000));
        assert_eq!(next_stored(t(1_000_000), t(0)), t(1_000_000));
        assert_eq!(next_stored(t(1_000_000), t(5_000_000)), t(5_000_000));
    }

    #[test]
    fn consistent_through_stays_below_every_stored_time_still_to_come() {
        let t = |us| Timestamp::from_micros(us);
        // Idle: the next write may be stored at now (on a millisecond) or at the last time.
        assert_eq!(consistent_through(t(9_000_000), false, t(5_000_000)), t(8_999_999));
        assert_eq!(consistent_through(t(4_999_500), false, t(5_000_000)), t(4_999_999));
        // In flight: the write may be stored at the last time.
        assert_eq!(consistent_through(t(9_000_000), true, t(5_000_000)), t(4_999_999));
        assert!(
            next_stored(t(9_000_000), t(5_000_000)) > consistent_through(t(9_000_000), false, t(5_000_000))
        );
        assert!(
            next_stored(t(4_999_600), t(5_000_000)) > consistent_through(t(4_999_500), false, t(5_000_000))
        );
    }
}
