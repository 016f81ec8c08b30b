-- Where `tally pull` resumes: per store and source LRS, the `since` of its next read.
-- (IF NOT EXISTS: tests that replay older migrations on a newer database run it again.)
CREATE TABLE IF NOT EXISTS pull_cursors (
    store_id INTEGER NOT NULL,
    source   TEXT    NOT NULL,
    since    TEXT    NOT NULL,
    updated  INTEGER NOT NULL,
    PRIMARY KEY (store_id, source)
);
