-- Insights: imported support tickets, learning goals and their recorded changes, and the
-- rollups the insights engine keeps by following statements in ingest order.

CREATE TABLE tickets (
    store_id      bigint NOT NULL,
    source        text    NOT NULL,
    external_id   text    NOT NULL,
    created       bigint NOT NULL,
    resolved      bigint,
    status        text    NOT NULL,
    category      text    NOT NULL,
    -- tags, each followed by a unit separator (U+001F)
    tags          text    NOT NULL,
    product       text    NOT NULL,
    requester     text    NOT NULL,
    -- the xAPI agent keys that match the requester, space separated, lowercase
    requester_keys text   NOT NULL,
    priority      text    NOT NULL,
    channel       text    NOT NULL,
    subject       text    NOT NULL,
    imported      bigint NOT NULL,
    PRIMARY KEY (store_id, source, external_id)
);
CREATE INDEX tickets_by_created ON tickets (store_id, created);

CREATE TABLE goals (
    store_id   bigint NOT NULL,
    goal_id    text    NOT NULL,
    definition text    NOT NULL,
    created    bigint NOT NULL,
    updated    bigint NOT NULL,
    PRIMARY KEY (store_id, goal_id)
);

CREATE TABLE goal_changes (
    store_id  bigint NOT NULL,
    goal_id   text    NOT NULL,
    change_id text    NOT NULL,
    at        bigint NOT NULL,
    kind      text    NOT NULL,
    note      text    NOT NULL,
    PRIMARY KEY (store_id, goal_id, change_id)
);

-- How far the engine has followed each store's statements.
CREATE TABLE rollup_watermarks (
    store_id bigint PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- Per day (since the epoch, UTC, of the statement's timestamp) × activity × verb.
CREATE TABLE rollup_daily (
    store_id     bigint NOT NULL,
    day          bigint NOT NULL,
    activity_id  text    NOT NULL,
    verb_id      text    NOT NULL,
    statements   bigint NOT NULL,
    completions  bigint NOT NULL,
    passes       bigint NOT NULL,
    failures     bigint NOT NULL,
    scaled_sum   double precision    NOT NULL,
    scaled_count bigint NOT NULL,
    duration_ms  bigint NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, verb_id)
);
CREATE INDEX rollup_daily_by_activity ON rollup_daily (store_id, activity_id, day);

-- Statements per day × activity × verb × actor: distinct actors are the rows.
CREATE TABLE rollup_daily_actors (
    store_id    bigint NOT NULL,
    day         bigint NOT NULL,
    activity_id text    NOT NULL,
    verb_id     text    NOT NULL,
    actor       text    NOT NULL,
    statements  bigint NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, verb_id, actor)
);

-- Per activity × actor: when first and last seen, completion, furthest progress, and the
-- video segments watched.
CREATE TABLE rollup_activity_actors (
    store_id      bigint NOT NULL,
    activity_id   text    NOT NULL,
    actor         text    NOT NULL,
    statements    bigint NOT NULL,
    completions   bigint NOT NULL,
    first_seen    bigint NOT NULL,
    last_seen     bigint NOT NULL,
    best_progress double precision    NOT NULL,
    segments      text    NOT NULL,
    PRIMARY KEY (store_id, activity_id, actor)
);
