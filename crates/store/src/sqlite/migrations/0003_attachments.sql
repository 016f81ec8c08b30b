-- Attachment content, once per hash per store, in pieces of 1 MiB.

CREATE TABLE attachments (
    store_id     INTEGER NOT NULL,
    sha2         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    length       INTEGER NOT NULL,
    chunks       INTEGER NOT NULL,
    PRIMARY KEY (store_id, sha2)
);

CREATE TABLE attachment_chunks (
    store_id INTEGER NOT NULL,
    sha2     TEXT    NOT NULL,
    chunk    INTEGER NOT NULL,
    bytes    BLOB    NOT NULL,
    PRIMARY KEY (store_id, sha2, chunk)
);
