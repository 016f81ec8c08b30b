-- rollup_epoch: bumped in the transaction that erases a person or purges statements; the
-- engine keeps the epoch it built from beside its watermark and rebuilds the store's
-- rollups from what remains when they differ. retention_days / ticket_retention_days: how
-- long statements and tickets are kept (NULL: for ever).
ALTER TABLE stores ADD COLUMN IF NOT EXISTS rollup_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN IF NOT EXISTS retention_days INTEGER;
ALTER TABLE stores ADD COLUMN IF NOT EXISTS ticket_retention_days INTEGER;
ALTER TABLE rollup_watermarks ADD COLUMN IF NOT EXISTS epoch BIGINT NOT NULL DEFAULT 0;
