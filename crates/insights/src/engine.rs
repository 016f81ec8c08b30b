//! The rollup engine: follows each store's statements in ingest order from its watermark,
//! and writes what they add to the rollups, one step at a time, each step with its new
//! watermark in one transaction. It never slows ingest (it only reads statements), it
//! resumes where it stopped after a restart, and voided statements are taken back out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use store::insights::{ActivityActorRow, RevisionRow, RollupStep, TailedStatement};
use store::{
    Cursor, RollupReader, RollupWriter, Seq, StatementFilter, StatementQuery, StatementReader, StatementTail,
    StoreError, StoreId, TenantReader,
};
use tracing::Instrument;
use uuid::Uuid;
use xapi::{AgentKey, voided_target};

use crate::rollup::{Contribution, Deltas, empty_row, fold};

/// Statements read per step. Within a step, a video session's statements fold into one
/// activity × actor row and one daily row, so larger steps look up and write fewer rows per
/// statement: PostgreSQL caught up 1.3× as fast with 10,000 as with 2,000 (benches/RESULTS.md).
/// On SQLite a step holds only the rollups' own write lock, never the statements'.
const STEP_STATEMENTS: usize = 10_000;

/// How often an idle engine looks for new statements.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Statements each store's rollups are behind its statements, after the engine's last step
/// (a Prometheus gauge, by `store`; absent until a store's first step).
pub const ROLLUP_LAG: &str = "tally_rollup_lag_statements";

/// What the engine uses of a backend: it reads the stores and their statements, and is the
/// one writer of the rollups.
pub trait EngineStore:
    TenantReader + StatementReader + StatementTail + RollupReader + RollupWriter + Clone + 'static
{
}

impl<T> EngineStore for T where
    T: TenantReader + StatementReader + StatementTail + RollupReader + RollupWriter + Clone + 'static
{
}

/// How far the engine has followed a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Lag {
    pub watermark: Seq,
    pub head: Seq,
    /// Statements not rolled up yet.
    pub statements_behind: i64,
}

/// Runs the engine until the process ends: catches up, then polls.
pub fn spawn<S: EngineStore>(store: S) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match catch_up(&store).await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "insights engine step failed; retrying");
                    tokio::time::sleep(IDLE_POLL * 4).await;
                }
            }
        }
    })
}

/// Runs the engine until the process ends on a thread of its own, below ingest's CPU
/// priority: the thread and its runtime's blocking threads (where the embedded store reads,
/// parses and writes the rollups) run in the idle scheduling class, so on a machine whose cores statement
/// ingest keeps busy, a step gets only what ingest leaves (and the rollups lag, by the
/// [`ROLLUP_LAG`] gauge, until ingest eases). For a store in this process
/// (SQLite); a PostgreSQL store's connections belong to the runtime that opened them.
pub fn spawn_below_ingest<S: EngineStore>(store: S) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("insights-engine".into()).spawn(move || {
        below_ingest();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("insights-engine-io")
            .on_thread_start(below_ingest)
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(async move {
                if let Err(error) = spawn(store).await {
                    tracing::error!(%error, "the insights engine stopped");
                }
            }),
            Err(error) => tracing::error!(%error, "cannot start the insights engine's runtime"),
        }
    })
}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs on a core no other thread
/// wants, and a waking thread of any other class takes the core at once (at nice 19, a
/// waking ingest thread could still wait out the engine's time slice).
fn below_ingest() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(error) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            tracing::warn!(?error, "cannot lower the insights engine's CPU priority");
        }
    }
}

/// Rolls every store up to its head; answers how many statements were read.
pub async fn catch_up<S: EngineStore>(store: &S) -> Result<u64, StoreError> {
    let mut total = 0;
    for info in store.stores().await? {
        loop {
            let read = step(store, info.id).await?;
            total += read as u64;
            if read < STEP_STATEMENTS {
                break;
            }
        }
    }
    Ok(total)
}

/// How far behind a store's rollups are.
pub async fn lag<S: RollupReader>(store: &S, id: StoreId) -> Result<Lag, StoreError> {
    let watermark = store.rollup_watermark(id).await?;
    let head = store.ingest_head(id).await?;
    Ok(Lag { watermark, head, statements_behind: head.since(watermark) })
}

/// Sets the [`ROLLUP_LAG`] gauge of a store whose rollups stand at `watermark`: what an
/// operator watches when ingest keeps the engine behind. Set inside a step's span, so the
/// gauge is current by the time the span is exported.
async fn record_lag<S: RollupReader>(store: &S, id: StoreId, watermark: Seq) -> Result<(), StoreError> {
    let behind = store.ingest_head(id).await?.since(watermark);
    metrics::gauge!(ROLLUP_LAG, "store" => id.to_string()).set(behind as f64);
    Ok(())
}

/// One step for one store: reads the next statements after the watermark and applies what
/// they add (or take back out). Answers how many statements it read.
pub async fn step<S: StatementReader + StatementTail + RollupReader + RollupWriter>(
    store: &S,
    id: StoreId,
) -> Result<usize, StoreError> {
    // The epoch before the statements: a step read before an erasure or purge committed
    // is then of the older epoch, and refused or cleared away (see `RollupStep::epoch`).
    let epoch = store.rollup_epoch(id).await?;
    let from = store.rollup_watermark(id).await?;
    let tail = store.statements_after(id, from, STEP_STATEMENTS).await?;
    let Some(last) = tail.last() else { return Ok(0) };
    let to = last.seq;
    // A span per step that read something (idle polls would only be noise in a trace).
    let span = tracing::info_span!(
        "rollup_step",
        store = id.get(),
        from = from.get(),
        to = to.get(),
        statements = tail.len()
    );
    roll_up(store, id, (from, to), epoch, tail).instrument(span).await
}

/// Applies what the statements `tail` (after the watermark `from`, up to `to`) add or take
/// back out; answers how many it read.
async fn roll_up<S: StatementReader + RollupReader + RollupWriter>(
    store: &S,
    id: StoreId,
    (from, to): (Seq, Seq),
    epoch: i64,
    tail: Vec<TailedStatement>,
) -> Result<usize, StoreError> {
    let read = tail.len();
    // Parsing a step's statements is the engine's CPU work (tens of milliseconds): it
    // runs off the async threads, which also run the statement writer's commit task, so a
    // step never makes a statement group wait for a worker thread.
    let Pass { mut deltas, added, revisions, voidings } =
        tokio::task::spawn_blocking(move || Pass::over(&tail))
            .await
            .map_err(|e| StoreError::Backend(format!("rollup step task failed: {e}")))?;
    let mut recompute: BTreeSet<(String, String)> = BTreeSet::new();
    for (seq, target) in voidings {
        // Take the target back out if it was counted: stored before its voiding
        // statement (a later-arriving target is skipped when it arrives).
        if let Some(stored) = store.statement(id, target).await?
            && stored.seq < seq
            && let Ok(Value::Object(target_json)) = serde_json::from_str::<Value>(&stored.body)
            && voided_target(&target_json).is_none()
            && let Some(c) = Contribution::of(&target_json)
        {
            deltas.add(&c, -1);
            recompute.insert((c.activity_id.clone(), c.actor.clone()));
        }
    }

    // Activity × actor rows: fold new contributions into what is held; rows a voiding
    // touched are recomputed from the statements as of this step's watermark.
    let pairs: Vec<(String, String)> = added.keys().filter(|k| !recompute.contains(*k)).cloned().collect();
    let mut held: BTreeMap<(String, String), ActivityActorRow> = store
        .activity_actor_rows(id, pairs)
        .await?
        .into_iter()
        .map(|r| ((r.activity_id.clone(), r.actor.clone()), r))
        .collect();
    let mut rows = Vec::new();
    for (key, contributions) in added.iter().filter(|(k, _)| !recompute.contains(*k)) {
        let mut row = held.remove(key).unwrap_or_else(|| empty_row(&key.0, &key.1));
        for c in contributions {
            fold(&mut row, c);
        }
        rows.push(row);
    }
    for (activity, actor) in &recompute {
        rows.push(recomputed(store, id, activity, actor, to).await?);
    }

    let step = RollupStep {
        daily: deltas.daily_rows(),
        daily_actors: deltas.daily_actor_rows(),
        activity_actors: rows,
        revisions: revisions
            .into_iter()
            .map(|((activity_id, marker), first_seen)| RevisionRow { activity_id, marker, first_seen })
            .collect(),
        from_seq: from,
        to_seq: to,
        epoch,
    };
    match store.apply_rollup(id, step).await {
        Ok(()) => {
            record_lag(store, id, to).await?;
            Ok(read)
        }
        // Another engine (another process) applied this step first.
        Err(StoreError::Conflict(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// What one pass over a step's statements adds, and the voidings it leaves to look up.
struct Pass {
    deltas: Deltas,
    /// New contributions by activity × actor.
    added: BTreeMap<(String, String), Vec<Contribution>>,
    /// Revision markers with the earliest time each was seen.
    revisions: BTreeMap<(String, String), i64>,
    /// Voiding statements as (their seq, the statement they void).
    voidings: Vec<(Seq, Uuid)>,
}

impl Pass {
    fn over(tail: &[TailedStatement]) -> Pass {
        let mut pass = Pass {
            deltas: Deltas::default(),
            added: BTreeMap::new(),
            revisions: BTreeMap::new(),
            voidings: Vec::new(),
        };
        for tailed in tail {
            let Ok(Value::Object(json)) = serde_json::from_str::<Value>(&tailed.body) else { continue };
            if let Some(target) = voided_target(&json) {
                pass.voidings.push((tailed.seq, target));
                continue;
            }
            if tailed.voided_by.is_some_and(|v| v < tailed.seq) {
                continue; // Voided before it arrived: never counted.
            }
            if let Some(c) = Contribution::of(&json) {
                pass.deltas.add(&c, 1);
                for marker in &c.markers {
                    let seen = pass.revisions.entry((c.activity_id.clone(), marker.clone())).or_insert(c.at);
                    *seen = (*seen).min(c.at);
                }
                pass.added.entry((c.activity_id.clone(), c.actor.clone())).or_default().push(c);
            }
        }
        pass
    }
}

/// An activity × actor row rebuilt from the statements visible at sequence `bound`.
async fn recomputed<S: StatementReader>(
    store: &S,
    id: StoreId,
    activity: &str,
    actor: &str,
    bound: Seq,
) -> Result<ActivityActorRow, StoreError> {
    let filter = StatementFilter {
        agent: Some(AgentKey::from_canonical(actor.to_string())),
        activity: Some(activity.to_string()),
        ..StatementFilter::default()
    };
    let mut row = empty_row(activity, actor);
    let mut cursor = Some(Cursor { bound, after: Seq::default() });
    while let Some(at) = cursor {
        let query = StatementQuery { filter: filter.clone(), ascending: true, limit: 500, cursor: Some(at) };
        let page = store.query_statements(id, query).await?;
        for statement in &page.statements {
            if let Ok(Value::Object(json)) = serde_json::from_str::<Value>(&statement.body)
                && let Some(c) = Contribution::of(&json)
                && c.activity_id == activity
                && c.actor == actor
            {
                fold(&mut row, &c);
            }
        }
        cursor = page.next;
    }
    Ok(row)
}
