-- gold.dim_product (SCD type 1): reference data from silver.products, plus inferred members for product_ids seen
-- in this batch's valid transactions but not in the reference data (name and category 'unknown', price 0: the
-- design requires them). Only new or changed rows are written.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), src AS (
    SELECT p.product_id, p.name, p.category, p.price::numeric(12,2) AS price, false AS is_inferred
    FROM silver.products p
    UNION ALL
    SELECT DISTINCT t.product_id, 'unknown', 'unknown', 0::numeric(12,2), true
    FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid AND t.product_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM silver.products p WHERE p.product_id = t.product_id)
), changed AS (
    SELECT s.* FROM src s
    WHERE NOT EXISTS (
        SELECT 1 FROM gold.dim_product d
        WHERE d.product_id = s.product_id
          AND (s.is_inferred OR (d.name, d.category, d.price, d.is_inferred)
                                IS NOT DISTINCT FROM (s.name, s.category, s.price, s.is_inferred)))
)
INSERT INTO gold.dim_product AS d (product_id, name, category, price, is_inferred)
SELECT product_id, name, category, price, is_inferred FROM changed
ON CONFLICT (product_id) DO UPDATE
SET name = excluded.name, category = excluded.category, price = excluded.price, is_inferred = excluded.is_inferred,
    updated_at = now()
WHERE NOT excluded.is_inferred
