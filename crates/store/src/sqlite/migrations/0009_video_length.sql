-- The length (seconds) of the video an activity × actor row watched, as its statements'
-- Video Profile `length` extension gave it, so played segments can be placed on the video
-- (drop-off to 1% of its length). Rows rolled up before this migration have none.
ALTER TABLE rollup_activity_actors ADD COLUMN length_s REAL;
