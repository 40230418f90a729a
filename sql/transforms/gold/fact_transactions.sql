-- gold.fact_transactions: one row per valid silver transaction, with the dimensions' surrogate keys.
-- Upsert on transaction_id; only the fraud attributes can change later (a late alert), and a row is
-- rewritten only when they did, so a rerun changes nothing.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), chg AS (
    SELECT t.* FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
)
INSERT INTO gold.fact_transactions AS f (
    transaction_id, date_key, hour_timestamp, customer_key, store_key, product_key, transaction_at, amount, currency,
    payment_method, installments, latitude, longitude, distance_from_home_km, fraud_score, is_fraud, ingested_at)
SELECT t.transaction_id,
       gold.date_key(u.ts::date),
       date_trunc('hour', t.transaction_at, 'UTC'), c.customer_key, s.store_key, p.product_key, t.transaction_at,
       t.amount, t.currency, t.payment_method, t.installments, t.latitude, t.longitude, t.distance_from_home_km,
       t.fraud_score, t.is_fraud, t.ingested_at
FROM chg t
CROSS JOIN LATERAL (SELECT t.transaction_at AT TIME ZONE 'UTC' AS ts) u
JOIN gold.dim_customer c ON c.customer_id = t.customer_id
JOIN gold.dim_store s ON s.store_id = t.store_id
LEFT JOIN gold.dim_product p ON p.product_id = t.product_id
ON CONFLICT (transaction_id) DO UPDATE
SET fraud_score = excluded.fraud_score, is_fraud = excluded.is_fraud, loaded_at = now()
WHERE (f.fraud_score, f.is_fraud) IS DISTINCT FROM (excluded.fraud_score, excluded.is_fraud)
