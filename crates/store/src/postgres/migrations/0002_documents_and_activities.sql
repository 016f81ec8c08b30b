-- State, activity profile and agent profile documents, and the activity definitions the
-- LRS has merged from the statements it accepted.

CREATE TABLE documents (
    store_id     bigint   NOT NULL,
    -- 1 state, 2 activity profile, 3 agent profile
    kind         smallint NOT NULL,
    -- '' where the resource has no activity (agent profiles)
    activity_id  text     NOT NULL,
    -- the agent's key; '' where the resource has no agent (activity profiles)
    agent        text     NOT NULL,
    -- '' for documents kept without a registration
    registration text     NOT NULL,
    doc_id       text     NOT NULL,
    content_type text     NOT NULL,
    body         bytea    NOT NULL,
    etag         text     NOT NULL,
    updated      bigint   NOT NULL,
    PRIMARY KEY (store_id, kind, activity_id, agent, registration, doc_id)
);

CREATE TABLE activities (
    store_id    bigint NOT NULL,
    activity_id text   NOT NULL,
    definition  text   NOT NULL,
    PRIMARY KEY (store_id, activity_id)
);
