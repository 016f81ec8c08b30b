//! What the insights engine keeps: tickets, learning goals with their recorded changes,
//! and rollups of statements. The engine decides what they mean; the store only keeps them.

use crate::model::Seq;

/// The separator that ends each tag in the stored `tags` column.
pub(crate) const TAG_END: char = '\u{1f}';

/// A support ticket, one per store, source and external id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketRow {
    pub source: String,
    pub external_id: String,
    /// Microseconds since the epoch.
    pub created: i64,
    pub resolved: Option<i64>,
    pub status: String,
    pub category: String,
    pub tags: Vec<String>,
    pub product: String,
    /// The requester as the export named them (an email or an account name).
    pub requester: String,
    /// The xAPI agent keys (lowercase) that identify the requester as an actor.
    pub requester_keys: Vec<String>,
    pub priority: String,
    pub channel: String,
    pub subject: String,
}

impl TicketRow {
    pub(crate) fn tags_column(&self) -> String {
        self.tags.iter().map(|t| format!("{t}{TAG_END}")).collect()
    }

    pub(crate) fn tags_from(column: &str) -> Vec<String> {
        column.split(TAG_END).filter(|t| !t.is_empty()).map(str::to_string).collect()
    }
}

/// Which tickets: created in `[from, to)` (microseconds), and from these sources,
/// categories and products when the lists are not empty. Tags are filtered by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub sources: Vec<String>,
    pub categories: Vec<String>,
    pub products: Vec<String>,
}

impl TicketFilter {
    /// Whether a ticket has one of the listed sources, categories and products (empty
    /// lists keep every ticket); the time range is applied by the query.
    pub(crate) fn keeps(&self, t: &TicketRow) -> bool {
        let keep = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        keep(&self.sources, &t.source)
            && keep(&self.categories, &t.category)
            && keep(&self.products, &t.product)
    }
}

/// Where a page of an ordered ticket listing resumes: after this (created, source,
/// external id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketCursor {
    pub created: i64,
    pub source: String,
    pub external_id: String,
}

/// Where a page of every daily row resumes: after this (day, activity, verb).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailyCursor {
    pub day: i64,
    pub activity_id: String,
    pub verb_id: String,
}

impl DailyCursor {
    /// Where a page that ended with `row` resumes.
    pub fn after(row: &DailyRow) -> DailyCursor {
        DailyCursor { day: row.day, activity_id: row.activity_id.clone(), verb_id: row.verb_id.clone() }
    }

    /// Before the first row.
    pub(crate) fn start() -> DailyCursor {
        DailyCursor { day: i64::MIN, ..DailyCursor::default() }
    }
}

/// What one ticket source's imports cover: every ticket the source created at or before
/// `through` (microseconds) has been imported. Recording a coverage keeps the later of the
/// old and new ends: importing an old export again does not make newer tickets unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketCoverage {
    pub source: String,
    pub through: i64,
}

/// A learning goal as stored: its JSON definition (validated by the engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalRow {
    pub id: String,
    pub definition: String,
    pub created: i64,
    pub updated: i64,
}

/// A change the team recorded on a goal (promotion, placement, content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRow {
    pub id: String,
    /// Microseconds since the epoch.
    pub at: i64,
    pub kind: String,
    pub note: String,
}

/// Activities a query covers: listed ids and/or every id starting with a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivitySelection {
    pub ids: Vec<String>,
    pub prefix: Option<String>,
}

impl ActivitySelection {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.prefix.is_none()
    }

    /// `LIKE` pattern for the prefix (`%` and `_` escaped with `\`).
    fn like_pattern(&self) -> Option<String> {
        self.prefix.as_ref().map(|p| {
            let escaped = p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("{escaped}%")
        })
    }

    /// The `(id, pattern)` parameters a selection query runs with, once each: one run per
    /// listed id, then one for the prefix (with both backends' SQL testing whichever is set).
    pub(crate) fn runs(&self) -> Vec<(Option<String>, Option<String>)> {
        self.ids
            .iter()
            .map(|id| (Some(id.clone()), None))
            .chain(self.like_pattern().map(|pattern| (None, Some(pattern))))
            .collect()
    }
}

/// A row a selection can read more than once (an activity listed by id that the prefix
/// matches too): the order rows are answered in, and when two are the same row.
pub(crate) trait SelectedRow {
    fn order(&self) -> impl Ord + '_;

    /// Whether two rows, next to each other in [`SelectedRow::order`], are one row.
    fn same(&self, other: &Self) -> bool;
}

/// The rows of a selection's runs in their order, each once (both backends answer so).
pub(crate) fn merged<R: SelectedRow>(mut rows: Vec<R>) -> Vec<R> {
    rows.sort_by(|a, b| a.order().cmp(&b.order()));
    rows.dedup_by(|a, b| a.same(b));
    rows
}

impl SelectedRow for ActivityActorRow {
    fn order(&self) -> impl Ord + '_ {
        (&self.activity_id, &self.actor)
    }

    fn same(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl SelectedRow for RevisionRow {
    /// By activity, then first sighting.
    fn order(&self) -> impl Ord + '_ {
        (&self.activity_id, self.first_seen, &self.marker)
    }

    fn same(&self, other: &Self) -> bool {
        (&self.activity_id, &self.marker) == (&other.activity_id, &other.marker)
    }
}

impl SelectedRow for DailyRow {
    fn order(&self) -> impl Ord + '_ {
        (self.day, &self.activity_id, &self.verb_id)
    }

    fn same(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl SelectedRow for DailyActorRow {
    fn order(&self) -> impl Ord + '_ {
        (self.day, &self.activity_id, &self.actor)
    }

    fn same(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

/// Additive counts per day × activity × verb.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DailyRow {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub activity_id: String,
    pub verb_id: String,
    pub statements: i64,
    pub completions: i64,
    pub passes: i64,
    pub failures: i64,
    pub scaled_sum: f64,
    pub scaled_count: i64,
    pub duration_ms: i64,
}

/// How many statements one actor has on a day × activity, of any verb (a row while positive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyActorRow {
    pub day: i64,
    pub activity_id: String,
    pub actor: String,
    pub statements: i64,
}

/// What one actor did with one activity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityActorRow {
    pub activity_id: String,
    pub actor: String,
    pub statements: i64,
    pub completions: i64,
    /// Microseconds since the epoch.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Furthest progress seen, 0..=1 (videos: of their length).
    pub best_progress: f64,
    /// Watched video segments, `start[.]end[,]…` in seconds, merged.
    pub segments: String,
    /// The video's length in seconds, when its statements gave it.
    pub length: Option<f64>,
}

/// A content revision marker of an activity (`revision:<context.revision>` or
/// `definition:<digest>`) and when it was first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionRow {
    pub activity_id: String,
    pub marker: String,
    /// Microseconds since the epoch (the earliest statement timestamp carrying it).
    pub first_seen: i64,
}

/// One step of the engine: counts to add (negative to take voided statements back out),
/// activity × actor rows to replace (a row with no statements is removed), and how far
/// the store's statements are now followed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollupStep {
    pub daily: Vec<DailyRow>,
    pub daily_actors: Vec<DailyActorRow>,
    pub activity_actors: Vec<ActivityActorRow>,
    /// Revision markers seen in the step, each with the earliest time it was seen.
    pub revisions: Vec<RevisionRow>,
    /// The watermark the step starts from (the step is refused if it moved: another engine
    /// got there first).
    pub from_seq: Seq,
    pub to_seq: Seq,
    /// The store's rollup epoch read before the step's statements were: rollups built at
    /// another epoch are cleared first (the step must then start from nothing).
    pub epoch: i64,
}

/// A statement as the engine follows it: in ingest order, with what voided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailedStatement {
    pub seq: Seq,
    pub id: uuid::Uuid,
    pub body: String,
    /// The place of the voiding statement, if voided.
    pub voided_by: Option<Seq>,
}

/// Where a store's rollups stand: their watermark and the epoch they were built at (none
/// before the first step: nothing is built, at epoch 0).
pub(crate) type Built = Option<(Seq, i64)>;

/// The watermark that counts at the store's epoch `wanted`: rollups of another epoch hold
/// statements that have since been erased or purged, and count as nothing built.
pub(crate) fn effective_watermark(wanted: i64, built: Built) -> Seq {
    match built {
        Some((watermark, epoch)) if epoch == wanted => watermark,
        _ => Seq::default(),
    }
}

/// Whether a step may apply to rollups standing at `built`, and whether the store's rollups
/// must be cleared first. A step of an epoch other than the store's (`wanted`) read its
/// statements before an erasure or purge committed, and is refused. Epochs only grow: a step of a newer epoch than the rollups' starts
/// from nothing over cleared rollups; one of an older epoch read its statements before an
/// erasure or purge, and is refused like a step whose watermark moved.
pub(crate) fn clears_before(step: &RollupStep, wanted: i64, built: Built) -> Result<bool, crate::StoreError> {
    let (watermark, epoch) = built.unwrap_or_default();
    let refused = |why: String| Err(crate::StoreError::Conflict(why));
    if step.epoch != wanted {
        return refused(format!("the step is of rollup epoch {}, the store is at {wanted}", step.epoch));
    }
    if step.epoch < epoch {
        return refused(format!("the step is of rollup epoch {}, the rollups of {epoch}", step.epoch));
    }
    let clear = step.epoch > epoch;
    let current = if clear { Seq::default() } else { watermark };
    if current != step.from_seq {
        return refused(format!("the rollup watermark moved from {} to {current}", step.from_seq));
    }
    Ok(clear)
}
