-- gold.dim_customer (SCD type 1): every customer of silver.customers (reference data, or an inferred row for a
-- customer seen only in transactions), plus an inferred member for a customer_id in this batch's valid transactions
-- that silver does not know yet. Attributes are overwritten in place; valid_from is when the current version was
-- written. Only new or changed rows are written, so a rerun changes nothing.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), src AS (
    SELECT c.customer_id, c.name, c.city, c.state, c.risk_profile, c.latitude, c.longitude, c.created_at,
           c.is_inferred
    FROM silver.customers c
    UNION ALL
    SELECT DISTINCT t.customer_id, 'unknown', NULL, NULL, 'normal', NULL::float8, NULL::float8, NULL::timestamptz, true
    FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
      AND NOT EXISTS (SELECT 1 FROM silver.customers c WHERE c.customer_id = t.customer_id)
), changed AS (
    SELECT s.* FROM src s
    WHERE NOT EXISTS (
        SELECT 1 FROM gold.dim_customer d
        WHERE d.customer_id = s.customer_id
          AND (d.name, d.city, d.state, d.risk_profile, d.latitude, d.longitude, d.created_at, d.is_inferred)
              IS NOT DISTINCT FROM (s.name, s.city, s.state, s.risk_profile, s.latitude, s.longitude, s.created_at,
                                    s.is_inferred))
)
INSERT INTO gold.dim_customer AS d (customer_id, name, city, state, risk_profile, latitude, longitude, created_at,
                                    is_inferred)
SELECT customer_id, name, city, state, risk_profile, latitude, longitude, created_at, is_inferred FROM changed
ON CONFLICT (customer_id) DO UPDATE
SET name = excluded.name, city = excluded.city, state = excluded.state, risk_profile = excluded.risk_profile,
    latitude = excluded.latitude, longitude = excluded.longitude, created_at = excluded.created_at,
    is_inferred = excluded.is_inferred, valid_from = now()
WHERE NOT (excluded.is_inferred AND NOT d.is_inferred)  -- an inferred member never overwrites reference data
