-- gold.dim_customer (SCD type 1): reference data from silver.customers, plus an inferred member for every
-- customer_id seen in this batch's valid transactions but not (yet) in the reference data. Only new or
-- changed rows are written, so a rerun changes nothing.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), src AS (
    SELECT c.customer_id, c.state, c.latitude, c.longitude, c.created_at, false AS is_inferred
    FROM silver.customers c
    UNION ALL
    SELECT DISTINCT t.customer_id, NULL, NULL::float8, NULL::float8, NULL::timestamptz, true
    FROM silver.transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
      AND NOT EXISTS (SELECT 1 FROM silver.customers c WHERE c.customer_id = t.customer_id)
), changed AS (
    SELECT s.* FROM src s
    WHERE NOT EXISTS (
        SELECT 1 FROM gold.dim_customer d
        WHERE d.customer_id = s.customer_id
          AND (s.is_inferred OR (d.state, d.latitude, d.longitude, d.created_at, d.is_inferred)
                                IS NOT DISTINCT FROM (s.state, s.latitude, s.longitude, s.created_at, s.is_inferred)))
)
INSERT INTO gold.dim_customer AS d (customer_id, state, latitude, longitude, created_at, is_inferred)
SELECT customer_id, state, latitude, longitude, created_at, is_inferred FROM changed
ON CONFLICT (customer_id) DO UPDATE
SET state = excluded.state, latitude = excluded.latitude, longitude = excluded.longitude,
    created_at = excluded.created_at, is_inferred = excluded.is_inferred, updated_at = now()
WHERE NOT excluded.is_inferred
