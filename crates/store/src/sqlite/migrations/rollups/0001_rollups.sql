-- The rollup tables, in their own file (rollups.sqlite3): everything here is derived from
-- the statements in tally.sqlite3 and can be rebuilt from them (an empty file has no
-- watermark, so the engine starts again from the first statement). The layout is that of
-- the statements file's migrations 5–10, where these tables lived until its migration 11.
CREATE TABLE rollup_watermarks (
    store_id INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL
);

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

CREATE TABLE rollup_daily_actors (
    store_id    INTEGER NOT NULL,
    day         INTEGER NOT NULL,
    activity_id TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    statements  INTEGER NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, actor)
);

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
    length_s      REAL,
    PRIMARY KEY (store_id, activity_id, actor)
);

CREATE TABLE rollup_revisions (
    store_id    INTEGER NOT NULL,
    activity_id TEXT    NOT NULL,
    marker      TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (store_id, activity_id, marker)
);
