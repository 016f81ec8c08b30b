-- Content revisions the statements reveal: each context.revision value and each distinct
-- activity definition seen for an activity, with when it was first seen. A marker first
-- seen after an activity's earliest one is a new revision of that content.
CREATE TABLE rollup_revisions (
    store_id    INTEGER NOT NULL,
    activity_id TEXT    NOT NULL,
    marker      TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (store_id, activity_id, marker)
);
