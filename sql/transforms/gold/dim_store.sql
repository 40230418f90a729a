-- gold.dim_store (SCD type 1): reference data from silver.stores, plus inferred members for store_ids seen
-- in this batch's valid transactions but not in the reference data. Only new or changed rows are written.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), src AS (
    SELECT s.store_id, s.name, s.state, s.latitude, s.longitude, false AS is_inferred
    FROM silver.stores s
    UNION ALL
    SELECT DISTINCT t.store_id, NULL, NULL, NULL::float8, NULL::float8, true
    FROM silver.transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
      AND NOT EXISTS (SELECT 1 FROM silver.stores s WHERE s.store_id = t.store_id)
), changed AS (
    SELECT s.* FROM src s
    WHERE NOT EXISTS (
        SELECT 1 FROM gold.dim_store d
        WHERE d.store_id = s.store_id
          AND (s.is_inferred OR (d.name, d.state, d.latitude, d.longitude, d.is_inferred)
                                IS NOT DISTINCT FROM (s.name, s.state, s.latitude, s.longitude, s.is_inferred)))
)
INSERT INTO gold.dim_store AS d (store_id, name, state, latitude, longitude, is_inferred)
SELECT store_id, name, state, latitude, longitude, is_inferred FROM changed
ON CONFLICT (store_id) DO UPDATE
SET name = excluded.name, state = excluded.state, latitude = excluded.latitude, longitude = excluded.longitude,
    is_inferred = excluded.is_inferred, updated_at = now()
WHERE NOT excluded.is_inferred
