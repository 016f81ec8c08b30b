-- The store's rollup_epoch these rollups were built from (see the statements file's
-- migration 15): when the store's moves on, the engine starts again from nothing.
ALTER TABLE rollup_watermarks ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
