-- gold.agg_daily_fraud: per UTC day, transactions, alerts, alert rate and scores, recomputed for every day this
-- batch touched. Transaction counts and amounts are the sums of that day's agg_hourly_sales rows (refreshed just
-- before, from the facts: the same numbers without re-reading every fact row); alerts come from
-- fact_fraud_alerts. Only changed days are written.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), days AS (
    SELECT DISTINCT (u.ts)::date AS day,
           (extract(year FROM u.ts) * 10000 + extract(month FROM u.ts) * 100 + extract(day FROM u.ts))::integer AS date_key
    FROM silver.transactions t, win, LATERAL (SELECT t.event_time AT TIME ZONE 'UTC' AS ts) u
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
), tx AS (
    -- the day's hours by the primary key's leading column (event_hour), not a scan of the whole table
    SELECT d.date_key, sum(h.tx_count) AS n, sum(h.total_amount) AS amount
    FROM days d
    JOIN gold.agg_hourly_sales h ON h.event_hour >= d.day::timestamp AT TIME ZONE 'UTC'
                                AND h.event_hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY d.date_key
), al AS (
    SELECT x.date_key, count(*) AS n, sum(x.amount) AS amount, avg(x.fraud_score) AS avg_score,
           max(x.fraud_score) AS max_score, count(DISTINCT x.customer_key) AS customers,
           count(DISTINCT x.store_key) AS stores
    FROM gold.fact_fraud_alerts x WHERE x.date_key IN (SELECT date_key FROM days)
    GROUP BY x.date_key
)
INSERT INTO gold.agg_daily_fraud AS d (
    date_key, tx_count, total_amount, alert_count, alerted_amount, alert_rate, avg_fraud_score, max_fraud_score,
    customers_alerted, stores_alerted)
SELECT tx.date_key, tx.n, tx.amount, coalesce(al.n, 0), coalesce(al.amount, 0), coalesce(al.n, 0)::float8 / tx.n,
       al.avg_score, al.max_score, coalesce(al.customers, 0), coalesce(al.stores, 0)
FROM tx LEFT JOIN al USING (date_key)
ON CONFLICT (date_key) DO UPDATE
SET tx_count = excluded.tx_count, total_amount = excluded.total_amount, alert_count = excluded.alert_count,
    alerted_amount = excluded.alerted_amount, alert_rate = excluded.alert_rate,
    avg_fraud_score = excluded.avg_fraud_score, max_fraud_score = excluded.max_fraud_score,
    customers_alerted = excluded.customers_alerted, stores_alerted = excluded.stores_alerted
WHERE (d.tx_count, d.total_amount, d.alert_count, d.alerted_amount, d.avg_fraud_score, d.max_fraud_score,
       d.customers_alerted, d.stores_alerted)
      IS DISTINCT FROM (excluded.tx_count, excluded.total_amount, excluded.alert_count, excluded.alerted_amount,
                        excluded.avg_fraud_score, excluded.max_fraud_score, excluded.customers_alerted,
                        excluded.stores_alerted)
