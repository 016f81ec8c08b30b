//! What the insights engine keeps: tickets, learning goals with their recorded changes,
//! and rollups of statements. The engine decides what they mean; the store only keeps them.

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
    pub from_seq: i64,
    pub to_seq: i64,
}

/// A statement as the engine follows it: in ingest order, with what voided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailedStatement {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub body: String,
    /// The sequence number of the voiding statement, if voided.
    pub voided_by: Option<i64>,
}

/// The SQL both backends share (`$n` placeholders; SQLite's are `?n`, see
/// [`for_sqlite`]). Backend-specific statements live beside their backend.
pub(crate) mod sql {
    pub const UPSERT_TICKET: &str = "INSERT INTO tickets (store_id, source, external_id, created, resolved, status, \
        category, tags, product, requester, requester_keys, priority, channel, subject, imported) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
        ON CONFLICT (store_id, source, external_id) DO UPDATE SET created = excluded.created, \
        resolved = excluded.resolved, status = excluded.status, category = excluded.category, tags = excluded.tags, \
        product = excluded.product, requester = excluded.requester, requester_keys = excluded.requester_keys, \
        priority = excluded.priority, channel = excluded.channel, subject = excluded.subject, imported = excluded.imported";
    pub const TICKET_EXISTS: &str =
        "SELECT 1 FROM tickets WHERE store_id = $1 AND source = $2 AND external_id = $3";
    /// Tickets in a time range ($2, $3); filtering by source/category/product is done
    /// on the rows (the lists are short).
    pub const TICKETS_IN_RANGE: &str = "SELECT source, external_id, created, resolved, status, category, tags, \
        product, requester, requester_keys, priority, channel, subject FROM tickets \
        WHERE store_id = $1 AND created >= $2 AND created < $3 ORDER BY created, source, external_id";
    pub const TICKET_PAGE: &str = "SELECT source, external_id, created, resolved, status, category, tags, product, \
        requester, requester_keys, priority, channel, subject FROM tickets WHERE store_id = $1 \
        AND (created, source, external_id) > ($2, $3, $4) ORDER BY created, source, external_id LIMIT $5";

    /// Keeps the later end (CASE, not GREATEST/MAX: both backends read it).
    pub const RECORD_COVERAGE: &str = "INSERT INTO ticket_coverage (store_id, source, through) VALUES ($1, $2, $3) \
        ON CONFLICT (store_id, source) DO UPDATE SET through = CASE WHEN excluded.through > ticket_coverage.through \
        THEN excluded.through ELSE ticket_coverage.through END";
    pub const COVERAGE: &str =
        "SELECT source, through FROM ticket_coverage WHERE store_id = $1 ORDER BY source";
    /// The requesters of tickets created before $2, each once (as their key lists).
    pub const REQUESTERS: &str = "SELECT DISTINCT requester_keys FROM tickets WHERE store_id = $1 AND created < $2 \
        AND requester_keys <> '' ORDER BY requester_keys";
    /// Every actor of any activity first seen before $2, each once.
    pub const KNOWN_ACTORS: &str = "SELECT DISTINCT actor FROM rollup_activity_actors WHERE store_id = $1 \
        AND first_seen < $2 ORDER BY actor";

    pub const PUT_GOAL: &str = "INSERT INTO goals (store_id, goal_id, definition, created, updated) \
        VALUES ($1, $2, $3, $4, $4) ON CONFLICT (store_id, goal_id) DO UPDATE SET definition = excluded.definition, \
        updated = excluded.updated";
    pub const GOAL: &str =
        "SELECT goal_id, definition, created, updated FROM goals WHERE store_id = $1 AND goal_id = $2";
    pub const GOALS: &str =
        "SELECT goal_id, definition, created, updated FROM goals WHERE store_id = $1 ORDER BY goal_id";
    pub const DELETE_GOAL: &str = "DELETE FROM goals WHERE store_id = $1 AND goal_id = $2";
    pub const DELETE_GOAL_CHANGES: &str = "DELETE FROM goal_changes WHERE store_id = $1 AND goal_id = $2";
    pub const ADD_CHANGE: &str = "INSERT INTO goal_changes (store_id, goal_id, change_id, at, kind, note) \
        SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM goals WHERE store_id = $1 AND goal_id = $2)";
    pub const CHANGES: &str = "SELECT change_id, at, kind, note FROM goal_changes WHERE store_id = $1 \
        AND goal_id = $2 ORDER BY at, change_id";
    pub const DELETE_CHANGE: &str =
        "DELETE FROM goal_changes WHERE store_id = $1 AND goal_id = $2 AND change_id = $3";

    pub const INGEST_HEAD: &str = "SELECT last_seq FROM stores WHERE id = $1";
    pub const WATERMARK: &str = "SELECT last_seq FROM rollup_watermarks WHERE store_id = $1";
    /// The next statements after $2, at most $3, in a range of $3 sequence numbers: they
    /// are dense, so the range holds the page, and bounding it makes the read cost a page
    /// whatever plan the statistics lead to (with statistics older than a bulk load,
    /// PostgreSQL read every statement after $2 and sorted them, for every step).
    pub const STATEMENTS_AFTER: &str = "SELECT seq, id, body, voided_by FROM statements WHERE store_id = $1 \
        AND seq > $2 AND seq <= $2 + $3 AND seq <= (SELECT last_seq FROM stores WHERE id = $1) \
        ORDER BY seq LIMIT $3";
    /// The first sequence number after $2 that holds a statement: where the next range
    /// starts when a range fell in a gap (statements removed).
    pub const NEXT_SEQ: &str = "SELECT MIN(seq) FROM statements WHERE store_id = $1 AND seq > $2 \
        AND seq <= (SELECT last_seq FROM stores WHERE id = $1)";
    pub const ADD_DAILY: &str = "INSERT INTO rollup_daily (store_id, day, activity_id, verb_id, statements, \
        completions, passes, failures, scaled_sum, scaled_count, duration_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (store_id, day, activity_id, verb_id) \
        DO UPDATE SET statements = rollup_daily.statements + excluded.statements, \
        completions = rollup_daily.completions + excluded.completions, passes = rollup_daily.passes + excluded.passes, \
        failures = rollup_daily.failures + excluded.failures, scaled_sum = rollup_daily.scaled_sum + excluded.scaled_sum, \
        scaled_count = rollup_daily.scaled_count + excluded.scaled_count, \
        duration_ms = rollup_daily.duration_ms + excluded.duration_ms";
    pub const ADD_DAILY_ACTOR: &str = "INSERT INTO rollup_daily_actors (store_id, day, activity_id, actor, \
        statements) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, day, activity_id, actor) \
        DO UPDATE SET statements = rollup_daily_actors.statements + excluded.statements";
    /// Rows a negative delta emptied (only the keys the step took something from, so a
    /// step costs the same however large the tables are).
    pub const DROP_EMPTY_DAILY_ACTOR: &str = "DELETE FROM rollup_daily_actors WHERE store_id = $1 AND day = $2 \
        AND activity_id = $3 AND actor = $4 AND statements <= 0";
    pub const DROP_EMPTY_DAILY: &str = "DELETE FROM rollup_daily WHERE store_id = $1 AND day = $2 \
        AND activity_id = $3 AND verb_id = $4 AND statements <= 0";
    pub const PUT_ACTIVITY_ACTOR: &str = "INSERT INTO rollup_activity_actors (store_id, activity_id, actor, \
        statements, completions, first_seen, last_seen, best_progress, segments, length_s) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (store_id, activity_id, actor) DO UPDATE SET \
        statements = excluded.statements, completions = excluded.completions, first_seen = excluded.first_seen, \
        last_seen = excluded.last_seen, best_progress = excluded.best_progress, segments = excluded.segments, \
        length_s = excluded.length_s";
    pub const DELETE_ACTIVITY_ACTOR: &str =
        "DELETE FROM rollup_activity_actors WHERE store_id = $1 AND activity_id = $2 AND actor = $3";
    pub const ACTIVITY_ACTOR: &str = "SELECT activity_id, actor, statements, completions, first_seen, last_seen, \
        best_progress, segments, length_s FROM rollup_activity_actors WHERE store_id = $1 AND activity_id = $2 AND actor = $3";
    /// Rows of listed activities ($2 as text joined by U+001F) or of a prefix ($3 LIKE).
    pub const ACTIVITY_ACTORS: &str = "SELECT activity_id, actor, statements, completions, first_seen, last_seen, \
        best_progress, segments, length_s FROM rollup_activity_actors WHERE store_id = $1 AND (activity_id = $2 \
        OR activity_id LIKE $3 ESCAPE '\\') ORDER BY activity_id, actor";
    pub const DAILY: &str = "SELECT day, activity_id, verb_id, statements, completions, passes, failures, \
        scaled_sum, scaled_count, duration_ms FROM rollup_daily WHERE store_id = $1 AND (activity_id = $2 \
        OR activity_id LIKE $3 ESCAPE '\\') AND day >= $4 AND day < $5 ORDER BY day, activity_id, verb_id";
    pub const DAILY_ACTORS: &str = "SELECT day, activity_id, actor, statements FROM rollup_daily_actors \
        WHERE store_id = $1 AND (activity_id = $2 OR activity_id LIKE $3 ESCAPE '\\') AND day >= $4 AND day < $5 \
        ORDER BY day, activity_id, actor";
    /// Keeps the earliest first sighting (CASE, not LEAST/MIN: both backends read it).
    pub const ADD_REVISION: &str = "INSERT INTO rollup_revisions (store_id, activity_id, marker, first_seen) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (store_id, activity_id, marker) DO UPDATE SET first_seen = \
        CASE WHEN excluded.first_seen < rollup_revisions.first_seen THEN excluded.first_seen \
        ELSE rollup_revisions.first_seen END";
    pub const REVISIONS: &str = "SELECT activity_id, marker, first_seen FROM rollup_revisions WHERE store_id = $1 \
        AND (activity_id = $2 OR activity_id LIKE $3 ESCAPE '\\') ORDER BY activity_id, first_seen, marker";
    pub const DAILY_PAGE: &str = "SELECT day, activity_id, verb_id, statements, completions, passes, failures, \
        scaled_sum, scaled_count, duration_ms FROM rollup_daily WHERE store_id = $1 \
        AND (day, activity_id, verb_id) > ($2, $3, $4) ORDER BY day, activity_id, verb_id LIMIT $5";
}

/// The same SQL with SQLite's numbered placeholders.
pub(crate) fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}
