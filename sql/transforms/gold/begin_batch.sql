-- Fix the upper bound of this gold batch: every gold model reads silver rows with
-- change_seq in (gold.batch, gold.batch:target]; commit_batch.sql moves gold.batch up to the target.
-- A failed run is simply rerun: the models are upserts, so reading the same window twice changes nothing.
UPDATE ops.watermarks w
SET last_id = s.hi, updated_at = now()
FROM (SELECT coalesce(max(change_seq), 0) AS hi FROM silver.clean_transactions) s
WHERE w.pipeline = 'gold.batch:target' AND w.last_id <> s.hi
