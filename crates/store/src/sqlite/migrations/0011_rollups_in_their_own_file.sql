-- The rollups move to a file of their own (rollups.sqlite3, attached as `rollups`): SQLite
-- has one write lock per file, and a rollup step holding this file's lock made statement
-- groups wait behind it. In their own file the engine's writes take that file's lock only,
-- and commit without an fsync (they can be rebuilt from the statements). The copy replaces
-- rows, so a copy that committed in the rollups file while this file's did not (the two
-- files of a WAL transaction commit one after the other) is simply made again.
INSERT OR REPLACE INTO rollups.rollup_watermarks (store_id, last_seq)
    SELECT store_id, last_seq FROM main.rollup_watermarks;
INSERT OR REPLACE INTO rollups.rollup_daily (store_id, day, activity_id, verb_id, statements, completions,
        passes, failures, scaled_sum, scaled_count, duration_ms)
    SELECT store_id, day, activity_id, verb_id, statements, completions, passes, failures, scaled_sum,
        scaled_count, duration_ms FROM main.rollup_daily;
INSERT OR REPLACE INTO rollups.rollup_daily_actors (store_id, day, activity_id, actor, statements)
    SELECT store_id, day, activity_id, actor, statements FROM main.rollup_daily_actors;
INSERT OR REPLACE INTO rollups.rollup_activity_actors (store_id, activity_id, actor, statements, completions,
        first_seen, last_seen, best_progress, segments, length_s)
    SELECT store_id, activity_id, actor, statements, completions, first_seen, last_seen, best_progress,
        segments, length_s FROM main.rollup_activity_actors;
INSERT OR REPLACE INTO rollups.rollup_revisions (store_id, activity_id, marker, first_seen)
    SELECT store_id, activity_id, marker, first_seen FROM main.rollup_revisions;
DROP TABLE main.rollup_watermarks;
DROP TABLE main.rollup_daily;
DROP TABLE main.rollup_daily_actors;
DROP TABLE main.rollup_activity_actors;
DROP TABLE main.rollup_revisions;
