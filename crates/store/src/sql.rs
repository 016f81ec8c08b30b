//! The SQL both backends run, written once. Every statement here uses PostgreSQL's `$n`
//! placeholders; SQLite numbers its `?n` the same way, so it runs the same text through
//! [`for_sqlite`]. The parameters, in order, are a statement's contract with both
//! backends. What only one backend can say (PostgreSQL's arrays and advisory locks,
//! batched writes through `unnest`) lives beside that backend.

/// The same SQL with SQLite's numbered placeholders (no statement here has a `$` of its
/// own).
pub(crate) fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

// Stores (tenants) and credentials.

/// A credential's columns; it counts as revoked when its store is.
macro_rules! credentials {
    () => {
        "SELECT c.key, c.store_id, c.name, c.scopes, c.secret_sha256, c.created, c.revoked OR s.revoked, \
         c.acts_for FROM credentials c JOIN stores s ON s.id = c.store_id"
    };
}

pub const CREDENTIAL: &str = concat!(credentials!(), " WHERE c.key = $1");
/// The credentials of store $1, or of every store when $1 is null.
pub const CREDENTIALS: &str =
    concat!(credentials!(), " WHERE CAST($1 AS BIGINT) IS NULL OR c.store_id = $1 ORDER BY c.created, c.key");
/// A new credential ($1…$8: key, store, name, scopes, secret digest, created, revoked,
/// acts_for), only into an unrevoked store; writes nothing when the key exists.
pub const CREATE_CREDENTIAL: &str = "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, \
    revoked, acts_for) SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
    WHERE EXISTS (SELECT 1 FROM stores WHERE id = $2 AND NOT revoked) ON CONFLICT (key) DO NOTHING";
/// A credential exactly as given (parameters as [`CREATE_CREDENTIAL`]'s).
pub const PUT_CREDENTIAL: &str = "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, \
    revoked, acts_for) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET \
    store_id = excluded.store_id, name = excluded.name, scopes = excluded.scopes, \
    secret_sha256 = excluded.secret_sha256, revoked = excluded.revoked, acts_for = excluded.acts_for";
pub const RENAME_CREDENTIAL: &str = "UPDATE credentials SET name = $2 WHERE key = $1";
pub const REVOKE_CREDENTIAL: &str = "UPDATE credentials SET revoked = true WHERE key = $1";

pub const STORE_COLUMNS: &str = "id, name, created, revoked, retention_days, ticket_retention_days";
pub const STORES: &str =
    "SELECT id, name, created, revoked, retention_days, ticket_retention_days FROM stores ORDER BY id";
pub const STORE: &str =
    "SELECT id, name, created, revoked, retention_days, ticket_retention_days FROM stores WHERE id = $1";
pub const SET_RETENTION: &str =
    "UPDATE stores SET retention_days = $2, ticket_retention_days = $3 WHERE id = $1";
pub const RENAME_STORE: &str = "UPDATE stores SET name = $2 WHERE id = $1";
pub const REVOKE_STORE: &str = "UPDATE stores SET revoked = true WHERE id = $1";

// Documents. A document's key is $1…$6: store, kind, activity, agent, registration ('' for
// none), id. A scope is $1…$5, with a null registration covering every registration.

macro_rules! document_key {
    () => {
        "store_id = $1 AND kind = $2 AND activity_id = $3 AND agent = $4 AND registration = $5 AND doc_id = $6"
    };
}

macro_rules! document_scope {
    () => {
        "store_id = $1 AND kind = $2 AND activity_id = $3 AND agent = $4 \
         AND (CAST($5 AS TEXT) IS NULL OR registration = $5)"
    };
}

pub const DOCUMENT: &str =
    concat!("SELECT doc_id, content_type, body, etag, updated FROM documents WHERE ", document_key!());
/// The ids in a scope updated after $6.
pub const DOCUMENT_IDS: &str = concat!(
    "SELECT DISTINCT doc_id FROM documents WHERE ",
    document_scope!(),
    " AND updated > $6 ORDER BY doc_id"
);
/// A document under its key, with $7…$10: content type, body, ETag, updated.
pub const PUT_DOCUMENT: &str = "INSERT INTO documents (store_id, kind, activity_id, agent, registration, doc_id, \
    content_type, body, etag, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
    ON CONFLICT (store_id, kind, activity_id, agent, registration, doc_id) DO UPDATE SET \
    content_type = excluded.content_type, body = excluded.body, etag = excluded.etag, updated = excluded.updated";
pub const DELETE_DOCUMENT: &str = concat!("DELETE FROM documents WHERE ", document_key!());
pub const DELETE_DOCUMENTS: &str = concat!("DELETE FROM documents WHERE ", document_scope!());

// Statements and attachments.

/// One statement by store and id, as a query answers it.
pub const STATEMENT: &str =
    "SELECT seq, id, stored, body, voided_by FROM statements WHERE store_id = $1 AND id = $2";
/// The last statement stored at or before $2 (for Consistent-Through).
pub const LAST_STORED_BY: &str =
    "SELECT seq FROM statements WHERE store_id = $1 AND stored <= $2 ORDER BY stored DESC, seq DESC LIMIT 1";
pub const ADD_ATTACHMENT_CHUNK: &str =
    "INSERT INTO attachment_chunks (store_id, sha2, chunk, bytes) VALUES ($1, $2, $3, $4)";
pub const SET_ATTACHMENT_CHUNKS: &str =
    "UPDATE attachments SET chunks = $3 WHERE store_id = $1 AND sha2 = $2";
pub const ATTACHMENT_CHUNK: &str =
    "SELECT bytes FROM attachment_chunks WHERE store_id = $1 AND sha2 = $2 AND chunk = $3";

// Pulls from other LRSs.

pub const PULL_CURSOR: &str = "SELECT since FROM pull_cursors WHERE store_id = $1 AND source = $2";
pub const SET_PULL_CURSOR: &str = "INSERT INTO pull_cursors (store_id, source, since, updated) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (store_id, source) DO UPDATE SET since = excluded.since, updated = excluded.updated";

// Statement forwarding. A rule's columns, in the order `ForwardingRule` reads them.

macro_rules! forwarding_rule_columns {
    () => {
        "id, store_id, url, key, secret, verbs, activity_prefix, enabled, max_attempts, created, delivered_seq, \
         failures, last_error, next_attempt, \
         (SELECT COUNT(*) FROM forwarding_dead_letters d WHERE d.rule_id = forwarding_rules.id)"
    };
}

/// A new rule ($1…$8: store, url, key, secret, verbs, activity prefix, max attempts, created).
pub const CREATE_FORWARDING: &str = "INSERT INTO forwarding_rules (store_id, url, key, secret, verbs, \
    activity_prefix, enabled, max_attempts, created, delivered_seq, failures, next_attempt, lease_until) \
    VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, 0, 0, 0, 0) RETURNING id";
pub const FORWARDING_RULE: &str =
    concat!("SELECT ", forwarding_rule_columns!(), " FROM forwarding_rules WHERE id = $1");
/// Every rule of store $1, or of every store when $1 is null.
pub const FORWARDING_RULES: &str = concat!(
    "SELECT ",
    forwarding_rule_columns!(),
    " FROM forwarding_rules WHERE CAST($1 AS BIGINT) IS NULL OR store_id = $1 ORDER BY id"
);
pub const DELETE_FORWARDING: &str = "DELETE FROM forwarding_rules WHERE store_id = $1 AND id = $2";
pub const DELETE_DEAD_LETTERS: &str = "DELETE FROM forwarding_dead_letters WHERE rule_id = $1";
pub const ENABLE_FORWARDING: &str =
    "UPDATE forwarding_rules SET enabled = $3 WHERE store_id = $1 AND id = $2";
/// Takes the lease of rule $1 for owner $2 until $4, when it is due at $3 and no other
/// owner's lease runs.
pub const CLAIM_FORWARDING: &str = "UPDATE forwarding_rules SET lease_owner = $2, lease_until = $4 WHERE id = $1 \
    AND enabled AND next_attempt <= $3 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3)";
/// Moves rule $1 from $3 to $4, if owner $2 still holds it there.
pub const ADVANCE_FORWARDING: &str = "UPDATE forwarding_rules SET delivered_seq = $4, failures = 0, last_error = NULL, \
    next_attempt = 0 WHERE id = $1 AND lease_owner = $2 AND delivered_seq = $3";
pub const ADD_DEAD_LETTER: &str = "INSERT INTO forwarding_dead_letters (rule_id, seq, statement_id, error, at) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
/// A failed delivery of rule $1 by owner $2: error $3, next try at $4.
pub const FAIL_FORWARDING: &str = "UPDATE forwarding_rules SET failures = failures + 1, last_error = $3, \
    next_attempt = $4 WHERE id = $1 AND lease_owner = $2 RETURNING failures";
pub const HOLD_FORWARDING: &str = "UPDATE forwarding_rules SET last_error = $3, next_attempt = $4 \
    WHERE id = $1 AND lease_owner = $2";
pub const DEAD_LETTERS: &str = "SELECT d.seq, d.statement_id, d.error, d.at FROM forwarding_dead_letters d \
    JOIN forwarding_rules r ON r.id = d.rule_id WHERE r.store_id = $1 AND d.rule_id = $2 ORDER BY d.seq";

// The audit log.

/// A recorded act ($1…$6: at, store, actor, action, subject, details).
pub const RECORD_AUDIT: &str = "INSERT INTO audit_log (at, store_id, actor, action, subject, details) \
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
/// A page of the log, newest first: each of $1…$5 (store, action, actor, since, until)
/// filters when it is not null, $6 is the id the page starts below (null: from the
/// newest), $7 the rows to read.
pub const AUDIT_PAGE: &str = "SELECT id, at, store_id, actor, action, subject, details FROM audit_log \
    WHERE (CAST($1 AS BIGINT) IS NULL OR store_id = $1) AND (CAST($2 AS TEXT) IS NULL OR action = $2) \
    AND (CAST($3 AS TEXT) IS NULL OR actor = $3) AND (CAST($4 AS BIGINT) IS NULL OR at > $4) \
    AND (CAST($5 AS BIGINT) IS NULL OR at <= $5) AND (CAST($6 AS BIGINT) IS NULL OR id < $6) \
    ORDER BY id DESC LIMIT $7";
// Helpdesk connectors. A connector's columns, in the order `Connector` reads them.

macro_rules! connector_columns {
    () => {
        "id, store_id, kind, base_url, credentials, every_seconds, filter, created, cursor, last_run, \
         next_run, last_error, tickets_fetched, known_through"
    };
}

/// A new connector ($1…$7: store, kind, base URL, sealed credentials, every, filter,
/// created); its first run is due one `every` after it was created.
pub const CREATE_CONNECTOR: &str = "INSERT INTO connectors (store_id, kind, base_url, credentials, every_seconds, \
    filter, created, next_run, tickets_fetched, lease_until) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($7 AS BIGINT) + CAST($5 AS BIGINT) * 1000000, 0, 0) RETURNING id";
pub const CONNECTOR: &str = concat!("SELECT ", connector_columns!(), " FROM connectors WHERE id = $1");
/// Every connector of store $1, or of every store when $1 is null.
pub const CONNECTORS: &str = concat!(
    "SELECT ",
    connector_columns!(),
    " FROM connectors WHERE CAST($1 AS BIGINT) IS NULL OR store_id = $1 ORDER BY id"
);
pub const DELETE_CONNECTOR: &str = "DELETE FROM connectors WHERE store_id = $1 AND id = $2";
/// Takes the lease of connector $1 for owner $2 until $4, when no other owner's lease runs
/// at $3 and, if $5, the connector is due at $3.
pub const CLAIM_CONNECTOR: &str = "UPDATE connectors SET lease_owner = $2, lease_until = $4 WHERE id = $1 \
    AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3) AND (NOT $5 OR next_run <= $3)";
/// Moves connector $1 of owner $2 to cursor $3, counting $4 more tickets, its lease renewed
/// until $5.
pub const ADVANCE_CONNECTOR: &str = "UPDATE connectors SET cursor = $3, tickets_fetched = tickets_fetched + $4, \
    lease_until = $5 WHERE id = $1 AND lease_owner = $2";
/// Ends a run of connector $1 by owner $2: at $3, next at $4, error $5, known through $6.
pub const FINISH_CONNECTOR: &str = "UPDATE connectors SET last_run = $3, next_run = $4, last_error = $5, \
    known_through = $6, lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2";

// Insights: tickets, goals and rollups.

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
pub const COVERAGE: &str = "SELECT source, through FROM ticket_coverage WHERE store_id = $1 ORDER BY source";
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

pub const INGEST_HEAD: &str = "SELECT last_seq, last_stored FROM stores WHERE id = $1";
pub const WATERMARK: &str = "SELECT last_seq, epoch FROM rollup_watermarks WHERE store_id = $1";
pub const ROLLUP_EPOCH: &str = "SELECT rollup_epoch FROM stores WHERE id = $1";
/// Every rollup table, for clearing a store's rollups before a rebuild.
pub const ROLLUP_TABLES: [&str; 4] =
    ["rollup_daily", "rollup_daily_actors", "rollup_activity_actors", "rollup_revisions"];
pub const SET_WATERMARK: &str = "INSERT INTO rollup_watermarks (store_id, last_seq, epoch) VALUES ($1, $2, $3) \
     ON CONFLICT (store_id) DO UPDATE SET last_seq = excluded.last_seq, epoch = excluded.epoch";
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
