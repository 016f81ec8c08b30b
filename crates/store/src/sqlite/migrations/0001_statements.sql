-- Stores (tenants), credentials and statements with their query index.

CREATE TABLE stores (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- Ingest head: the last sequence number and `stored` time committed in this store.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    last_stored INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL
);

INSERT INTO stores (id, name, created) VALUES (1, 'default', CAST(unixepoch('subsec') * 1000000 AS INTEGER));

CREATE TABLE credentials (
    key           TEXT    PRIMARY KEY,
    store_id      INTEGER NOT NULL REFERENCES stores (id),
    name          TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    secret_sha256 BLOB    NOT NULL,
    created       INTEGER NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE statements (
    store_id   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    id         BLOB    NOT NULL,
    stored     INTEGER NOT NULL,
    ref_id     BLOB,
    is_voiding INTEGER NOT NULL,
    voided_by  INTEGER,
    body       TEXT    NOT NULL,
    PRIMARY KEY (store_id, seq)
);

CREATE UNIQUE INDEX statements_by_id ON statements (store_id, id);
CREATE INDEX statements_by_stored ON statements (store_id, stored, seq);
CREATE INDEX statements_by_ref ON statements (store_id, ref_id) WHERE ref_id IS NOT NULL;

CREATE TABLE statement_index (
    store_id INTEGER NOT NULL,
    kind     INTEGER NOT NULL,
    key      INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (store_id, kind, key, seq)
) WITHOUT ROWID;
