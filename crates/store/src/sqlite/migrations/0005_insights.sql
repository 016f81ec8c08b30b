-- Insights: imported support tickets, learning goals and their recorded changes, and the
-- rollups the insights engine keeps by following statements in ingest order.

CREATE TABLE tickets (
    store_id      INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    resolved      INTEGER,
    status        TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    -- tags, each followed by a unit separator (U+001F)
    tags          TEXT    NOT NULL,
    product       TEXT    NOT NULL,
    requester     TEXT    NOT NULL,
    -- the xAPI agent keys that match the requester, space separated, lowercase
    requester_keys TEXT   NOT NULL,
    priority      TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    imported      INTEGER NOT NULL,
    PRIMARY KEY (store_id, source, external_id)
);
CREATE INDEX tickets_by_created ON tickets (store_id, created);

CREATE TABLE goals (
    store_id   INTEGER NOT NULL,
    goal_id    TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (store_id, goal_id)
);

CREATE TABLE goal_changes (
    store_id  INTEGER NOT NULL,
    goal_id   TEXT    NOT NULL,
    change_id TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    note      TEXT    NOT NULL,
    PRIMARY KEY (store_id, goal_id, change_id)
);

-- How far the engine has followed each store's statements.
CREATE TABLE rollup_watermarks (
    store_id INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

-- Per day (since the epoch, UTC, of the statement's timestamp) × activity × verb.
CREATE TABLE rollup_daily (
    store_id     INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    activity_id  TEXT    NOT NULL,
    verb_id      TEXT    NOT NULL,
    statements   INTEGER NOT NULL,
    completions  INTEGER NOT NULL,
    passes       INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    scaled_sum   REAL    NOT NULL,
    scaled_count INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, verb_id)
);
CREATE INDEX rollup_daily_by_activity ON rollup_daily (store_id, activity_id, day);

-- Statements per day × activity × verb × actor: distinct actors are the rows.
CREATE TABLE rollup_daily_actors (
    store_id    INTEGER NOT NULL,
    day         INTEGER NOT NULL,
    activity_id TEXT    NOT NULL,
    verb_id     TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    statements  INTEGER NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, verb_id, actor)
);

-- Per activity × actor: when first and last seen, completion, furthest progress, and the
-- video segments watched.
CREATE TABLE rollup_activity_actors (
    store_id      INTEGER NOT NULL,
    activity_id   TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    statements    INTEGER NOT NULL,
    completions   INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    best_progress REAL    NOT NULL,
    segments      TEXT    NOT NULL,
    PRIMARY KEY (store_id, activity_id, actor)
);
