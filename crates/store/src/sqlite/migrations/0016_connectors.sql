-- Helpdesk connectors: where a store's tickets are pulled from, with the helpdesk
-- credentials sealed (encrypted and authenticated by the caller; never readable here), the
-- schedule, the committed cursor (the helpdesk's own place after the last stored page), the
-- state of the last run and the lease of the process running it.
CREATE TABLE IF NOT EXISTS connectors (
    id              INTEGER PRIMARY KEY,
    store_id        INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    base_url        TEXT    NOT NULL,
    credentials     BLOB    NOT NULL,
    every_seconds   INTEGER NOT NULL,
    filter          TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    cursor          TEXT,
    last_run        INTEGER,
    next_run        INTEGER NOT NULL,
    last_error      TEXT,
    tickets_fetched INTEGER NOT NULL,
    known_through   INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER NOT NULL
);
