-- gold.agg_hourly_sales: sales per UTC hour and store, recomputed from the fact table for every hour this
-- batch touched (so the aggregate always equals the facts). Only changed groups are written (computed_at: when).
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), hours AS (
    SELECT DISTINCT date_trunc('hour', t.transaction_at, 'UTC') AS hour_timestamp
    FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
)
INSERT INTO gold.agg_hourly_sales AS a (
    hour_timestamp, store_key, date_key, transaction_count, total_amount, avg_amount, customers, fraud_count,
    fraud_amount)
SELECT f.hour_timestamp, f.store_key, min(f.date_key), count(*), sum(f.amount), round(avg(f.amount), 2),
       count(DISTINCT f.customer_key), count(*) FILTER (WHERE f.is_fraud),
       coalesce(sum(f.amount) FILTER (WHERE f.is_fraud), 0)
FROM gold.fact_transactions f
WHERE f.hour_timestamp IN (SELECT hour_timestamp FROM hours)
GROUP BY f.hour_timestamp, f.store_key
ON CONFLICT (hour_timestamp, store_key) DO UPDATE
SET date_key = excluded.date_key, transaction_count = excluded.transaction_count,
    total_amount = excluded.total_amount, avg_amount = excluded.avg_amount, customers = excluded.customers,
    fraud_count = excluded.fraud_count, fraud_amount = excluded.fraud_amount, computed_at = now()
WHERE (a.transaction_count, a.total_amount, a.avg_amount, a.customers, a.fraud_count, a.fraud_amount)
      IS DISTINCT FROM (excluded.transaction_count, excluded.total_amount, excluded.avg_amount, excluded.customers,
                        excluded.fraud_count, excluded.fraud_amount)
