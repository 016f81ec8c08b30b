-- Content revisions the statements reveal: each context.revision value and each distinct
-- activity definition seen for an activity, with when it was first seen. A marker first
-- seen after an activity's earliest one is a new revision of that content.
CREATE TABLE rollup_revisions (
    store_id    bigint  NOT NULL,
    activity_id text    NOT NULL,
    marker      text    NOT NULL,
    first_seen  bigint  NOT NULL,
    PRIMARY KEY (store_id, activity_id, marker)
);
