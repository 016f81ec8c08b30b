-- Where `tally pull` resumes: per store and source LRS, the `since` of its next read.
-- (IF NOT EXISTS: tests that replay older migrations on a newer database run it again.)
CREATE TABLE IF NOT EXISTS pull_cursors (
    store_id bigint NOT NULL,
    source   text   NOT NULL,
    since    text   NOT NULL,
    updated  bigint NOT NULL,
    PRIMARY KEY (store_id, source)
);
