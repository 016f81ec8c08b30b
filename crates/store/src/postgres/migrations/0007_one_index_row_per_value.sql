-- One index row per (statement, hashed value), with the kinds of the value as bits
-- (1 << kind), instead of one row per kind: the actor was stored as Agent and RelatedAgent,
-- the object Activity as Activity and RelatedActivity, the authority as RelatedAgent and
-- Authority. A filter reads one range of (store_id, key) in sequence order and tests the
-- bits; `related_agents` / `related_activities` still read a single range.
ALTER TABLE statement_index RENAME TO statement_index_by_kind;
ALTER INDEX statement_index_pkey RENAME TO statement_index_by_kind_pkey;

CREATE TABLE statement_index (
    store_id bigint   NOT NULL,
    key      bigint   NOT NULL,
    seq      bigint   NOT NULL,
    kinds    smallint NOT NULL,
    -- kinds is carried in the index so filters test it without reading the table.
    PRIMARY KEY (store_id, key, seq) INCLUDE (kinds)
);

-- Each (store_id, key, seq) held each kind at most once, so the sum of the bits is their OR.
INSERT INTO statement_index (store_id, key, seq, kinds)
SELECT store_id, key, seq, sum(1 << kind)::smallint
FROM statement_index_by_kind
GROUP BY store_id, key, seq;

DROP TABLE statement_index_by_kind;
