-- The audit log: one row per administrative act (who, what, on what, with which counts).
-- A table of its own that erasure and retention never touch. AUTOINCREMENT: an id is
-- never reused, so a deleted row cannot be mistaken for a later one.
CREATE TABLE IF NOT EXISTS audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    details  TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_log_by_store ON audit_log (store_id, id);
