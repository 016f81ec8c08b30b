-- Attachment content, once per hash per store, in pieces of 1 MiB.

CREATE TABLE attachments (
    store_id     bigint  NOT NULL,
    sha2         text    NOT NULL,
    content_type text    NOT NULL,
    length       bigint  NOT NULL,
    chunks       integer NOT NULL,
    PRIMARY KEY (store_id, sha2)
);

CREATE TABLE attachment_chunks (
    store_id bigint  NOT NULL,
    sha2     text    NOT NULL,
    chunk    integer NOT NULL,
    bytes    bytea   NOT NULL,
    PRIMARY KEY (store_id, sha2, chunk)
);
