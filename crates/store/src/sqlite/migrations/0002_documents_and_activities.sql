-- State, activity profile and agent profile documents, and the activity definitions the
-- LRS has merged from the statements it accepted.

CREATE TABLE documents (
    store_id     INTEGER NOT NULL,
    -- 1 state, 2 activity profile, 3 agent profile
    kind         INTEGER NOT NULL,
    -- '' where the resource has no activity (agent profiles)
    activity_id  TEXT    NOT NULL,
    -- the agent's key; '' where the resource has no agent (activity profiles)
    agent        TEXT    NOT NULL,
    -- '' for documents kept without a registration
    registration TEXT    NOT NULL,
    doc_id       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    etag         TEXT    NOT NULL,
    updated      INTEGER NOT NULL,
    PRIMARY KEY (store_id, kind, activity_id, agent, registration, doc_id)
);

CREATE TABLE activities (
    store_id    INTEGER NOT NULL,
    activity_id TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    PRIMARY KEY (store_id, activity_id)
);
