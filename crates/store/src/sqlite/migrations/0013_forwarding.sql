-- Statement forwarding: rules, each with its place in its store's statements (every
-- statement up to `delivered_seq` was delivered or dead-lettered), its retry state and the
-- lease of the process delivering it; and the statements given up on.
CREATE TABLE IF NOT EXISTS forwarding_rules (
    id              INTEGER PRIMARY KEY,
    store_id        INTEGER NOT NULL,
    url             TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    verbs           TEXT    NOT NULL,
    activity_prefix TEXT    NOT NULL,
    enabled         INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    last_error      TEXT,
    next_attempt    INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS forwarding_dead_letters (
    rule_id      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    statement_id TEXT    NOT NULL,
    error        TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (rule_id, seq)
);
