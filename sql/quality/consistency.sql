-- The aggregates must add up to the facts (threshold: 0 difference): counts and sums of agg_hourly_sales equal
-- those of fact_transactions, alert counts of agg_daily_fraud equal fact_fraud_alerts.
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT c.check_name, c.table_name, c.diff, 0, c.diff = 0, c.details, now()
FROM (
    SELECT 'agg_count_matches_fact' AS check_name, 'gold.agg_hourly_sales' AS table_name,
           abs(coalesce((SELECT sum(transaction_count) FROM gold.agg_hourly_sales), 0)
               - (SELECT count(*) FROM gold.fact_transactions)) AS diff,
           'sum(transaction_count) - count(fact_transactions)' AS details
    UNION ALL
    SELECT 'agg_amount_matches_fact', 'gold.agg_hourly_sales',
           abs(coalesce((SELECT sum(total_amount) FROM gold.agg_hourly_sales), 0)
               - coalesce((SELECT sum(amount) FROM gold.fact_transactions), 0)),
           'sum(total_amount) - sum(fact_transactions.amount)'
    UNION ALL
    SELECT 'agg_alerts_match_fact', 'gold.agg_daily_fraud',
           abs(coalesce((SELECT sum(total_alerts) FROM gold.agg_daily_fraud), 0)
               - (SELECT count(*) FROM gold.fact_fraud_alerts)),
           'sum(total_alerts) - count(fact_fraud_alerts)'
) c
