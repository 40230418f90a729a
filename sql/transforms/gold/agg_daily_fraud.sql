-- gold.agg_daily_fraud: per UTC day, transactions, alerts, fraud rate (alerts / transactions), the scores and the
-- day's top rule (the rule id in the most alerts; ties: the lowest id), recomputed for every day this batch
-- touched. Transaction counts and amounts are the sums of that day's agg_hourly_sales rows (refreshed just before,
-- from the facts: the same numbers without re-reading every fact row); alerts come from fact_fraud_alerts. Only
-- changed days are written (computed_at: when).
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), days AS (
    SELECT DISTINCT (u.ts)::date AS day,
           gold.date_key(u.ts::date) AS date_key
    FROM silver.clean_transactions t, win, LATERAL (SELECT t.transaction_at AT TIME ZONE 'UTC' AS ts) u
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
), tx AS (
    -- the day's hours by the unique key's leading column (hour_timestamp), not a scan of the whole table
    SELECT d.date_key, sum(h.transaction_count) AS n, sum(h.total_amount) AS amount
    FROM days d
    JOIN gold.agg_hourly_sales h ON h.hour_timestamp >= d.day::timestamp AT TIME ZONE 'UTC'
                                AND h.hour_timestamp < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY d.date_key
), al AS (
    SELECT x.date_key, count(*) AS n, sum(x.amount) AS amount, round(avg(x.fraud_score), 3) AS avg_score,
           max(x.fraud_score) AS max_score, count(DISTINCT x.customer_key) AS customers,
           count(DISTINCT x.store_key) AS stores
    FROM gold.fact_fraud_alerts x WHERE x.date_key IN (SELECT date_key FROM days)
    GROUP BY x.date_key
), top AS (
    SELECT DISTINCT ON (x.date_key) x.date_key, r.rule
    FROM gold.fact_fraud_alerts x CROSS JOIN LATERAL unnest(x.rules_triggered) AS r(rule)
    WHERE x.date_key IN (SELECT date_key FROM days)
    GROUP BY x.date_key, r.rule
    ORDER BY x.date_key, count(*) DESC, r.rule
)
INSERT INTO gold.agg_daily_fraud AS d (
    date_key, total_txns, total_amount, total_alerts, alerted_amount, fraud_rate, avg_score, max_fraud_score,
    top_rule, customers_alerted, stores_alerted)
SELECT tx.date_key, tx.n, tx.amount, coalesce(al.n, 0), coalesce(al.amount, 0),
       round(coalesce(al.n, 0)::numeric / tx.n, 4), al.avg_score, al.max_score, top.rule,
       coalesce(al.customers, 0), coalesce(al.stores, 0)
FROM tx LEFT JOIN al USING (date_key) LEFT JOIN top USING (date_key)
ON CONFLICT (date_key) DO UPDATE
SET total_txns = excluded.total_txns, total_amount = excluded.total_amount, total_alerts = excluded.total_alerts,
    alerted_amount = excluded.alerted_amount, fraud_rate = excluded.fraud_rate, avg_score = excluded.avg_score,
    max_fraud_score = excluded.max_fraud_score, top_rule = excluded.top_rule,
    customers_alerted = excluded.customers_alerted, stores_alerted = excluded.stores_alerted, computed_at = now()
WHERE (d.total_txns, d.total_amount, d.total_alerts, d.alerted_amount, d.avg_score, d.max_fraud_score, d.top_rule,
       d.customers_alerted, d.stores_alerted)
      IS DISTINCT FROM (excluded.total_txns, excluded.total_amount, excluded.total_alerts, excluded.alerted_amount,
                        excluded.avg_score, excluded.max_fraud_score, excluded.top_rule, excluded.customers_alerted,
                        excluded.stores_alerted)
