-- Close the gold batch: the next run starts after this batch's upper bound.
UPDATE ops.watermarks g
SET last_id = t.last_id, updated_at = now()
FROM ops.watermarks t
WHERE g.pipeline = 'gold.batch' AND t.pipeline = 'gold.batch:target' AND g.last_id <> t.last_id
