-- Stores can be revoked (their credentials then stop working); credentials are listed
-- per store, and may act for a user (their statements' authority is then a Group of the
-- credential and that user).

ALTER TABLE stores ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;

CREATE INDEX credentials_by_store ON credentials (store_id, created);

ALTER TABLE credentials ADD COLUMN acts_for TEXT;
