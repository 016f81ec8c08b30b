-- rollup_epoch: bumped in the transaction that erases a person or purges statements, so
-- the engine, which keeps the epoch it built from beside its watermark, rebuilds the
-- store's rollups from what remains (they live in another file: no transaction spans both).
-- retention_days / ticket_retention_days: how long statements and tickets are kept
-- (NULL: for ever).
ALTER TABLE stores ADD COLUMN rollup_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN retention_days INTEGER;
ALTER TABLE stores ADD COLUMN ticket_retention_days INTEGER;
