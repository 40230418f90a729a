-- gold.dim_store (SCD type 1): reference data from silver.stores, plus inferred members for store_ids seen in
-- this batch's valid transactions but not in the reference data (name and city 'unknown', state '--': the design
-- requires them). Only new or changed rows are written.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), src AS (
    SELECT s.store_id, s.name, s.city, s.state, s.category, s.latitude::float8 AS latitude,
           s.longitude::float8 AS longitude, false AS is_inferred
    FROM silver.stores s
    UNION ALL
    SELECT DISTINCT t.store_id, 'unknown', 'unknown', '--', NULL, NULL::float8, NULL::float8, true
    FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
      AND NOT EXISTS (SELECT 1 FROM silver.stores s WHERE s.store_id = t.store_id)
), changed AS (
    SELECT s.* FROM src s
    WHERE NOT EXISTS (
        SELECT 1 FROM gold.dim_store d
        WHERE d.store_id = s.store_id
          AND (s.is_inferred OR (d.name, d.city, d.state, d.category, d.latitude, d.longitude, d.is_inferred)
                                IS NOT DISTINCT FROM (s.name, s.city, s.state, s.category, s.latitude, s.longitude,
                                                      s.is_inferred)))
)
INSERT INTO gold.dim_store AS d (store_id, name, city, state, category, latitude, longitude, is_inferred)
SELECT store_id, name, city, state, category, latitude, longitude, is_inferred FROM changed
ON CONFLICT (store_id) DO UPDATE
SET name = excluded.name, city = excluded.city, state = excluded.state, category = excluded.category,
    latitude = excluded.latitude, longitude = excluded.longitude, is_inferred = excluded.is_inferred, updated_at = now()
WHERE NOT excluded.is_inferred
