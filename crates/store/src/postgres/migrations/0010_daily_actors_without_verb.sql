-- Statements per day × activity × actor, without the verb: no report reads the verb of
-- these rows (distinct people and chatbot conversations per day are what they are for),
-- and keyed by it a video session of played, paused, seeked and completed wrote four rows
-- where one will do. The rows of each verb are summed into one.
CREATE TABLE rollup_daily_actors_by_actor (
    store_id    bigint NOT NULL,
    day         bigint NOT NULL,
    activity_id text NOT NULL,
    actor       text NOT NULL,
    statements  bigint NOT NULL,
    PRIMARY KEY (store_id, day, activity_id, actor)
);
INSERT INTO rollup_daily_actors_by_actor (store_id, day, activity_id, actor, statements)
    SELECT store_id, day, activity_id, actor, SUM(statements) FROM rollup_daily_actors
    GROUP BY store_id, day, activity_id, actor HAVING SUM(statements) > 0;
DROP TABLE rollup_daily_actors;
ALTER TABLE rollup_daily_actors_by_actor RENAME TO rollup_daily_actors;
ALTER INDEX rollup_daily_actors_by_actor_pkey RENAME TO rollup_daily_actors_pkey;
