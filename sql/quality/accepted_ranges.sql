-- Accepted ranges in gold (threshold: 0 rows out of range; a missing location is not out of range) and the share
-- of bronze rows read in the last lookback_hours that silver rejected or flagged invalid (threshold: < 5 per cent;
-- those rows are kept out of gold).
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT c.check_name, c.table_name, c.measured, c.threshold, c.measured <= c.threshold, c.details, now()
FROM (
    SELECT 'amount_out_of_range' AS check_name, 'gold.fact_transactions' AS table_name,
           count(*) FILTER (WHERE NOT (amount > 0 AND amount < 1e10))::numeric AS measured, 0::numeric AS threshold,
           'amount must be > 0 and < 1e10' AS details
    FROM gold.fact_transactions
    UNION ALL
    SELECT 'installments_out_of_range', 'gold.fact_transactions',
           count(*) FILTER (WHERE installments NOT BETWEEN 1 AND 24), 0, 'installments must be in 1..24'
    FROM gold.fact_transactions
    UNION ALL
    SELECT 'coordinates_out_of_range', 'gold.fact_transactions',
           count(*) FILTER (WHERE NOT (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)), 0,
           'latitude in [-90, 90], longitude in [-180, 180]'
    FROM gold.fact_transactions
    UNION ALL
    SELECT 'fraud_score_out_of_range', 'gold.fact_fraud_alerts',
           count(*) FILTER (WHERE NOT (fraud_score BETWEEN 0 AND 1)), 0, 'fraud_score must be in [0, 1]'
    FROM gold.fact_fraud_alerts
    UNION ALL
    SELECT 'invalid_rate', 'silver.clean_transactions',
           round(coalesce(sum(bad)::numeric / nullif(sum(n), 0), 0), 6), 0.0499999,
           to_char(sum(bad), 'FM999,999,999,990') || ' rejected or invalid of ' || to_char(sum(n), 'FM999,999,999,990') || ' rows ingested in the last '
               || %(lookback_hours)s::text || ' h'
    FROM (SELECT count(*) FILTER (WHERE NOT is_valid) AS bad, count(*) AS n FROM silver.clean_transactions
          WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)
          UNION ALL
          SELECT count(*), count(*) FROM silver.rejected_transactions
          WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)) v
) c
