-- Duplicate transaction_ids (threshold: 0). Bronze over the lookback window (a duplicate there is a producer
-- or source problem: silver keeps only the first copy); silver and gold over the whole table (must never happen).
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT c.check_name, c.table_name, c.dups, 0, c.dups = 0, to_char(c.dups, 'FM999,999,999,990') || ' extra rows among ' || to_char(c.n, 'FM999,999,999,990') || ' rows', now()
FROM (
    SELECT 'duplicate_transaction_ids' AS check_name, 'bronze.raw_transactions' AS table_name,
           count(b.tid) - count(DISTINCT b.tid) AS dups, count(*) AS n
    FROM (SELECT raw_payload ->> 'transaction_id' AS tid FROM bronze.raw_transactions
          WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)) b
    UNION ALL
    SELECT 'duplicate_transaction_ids', 'silver.clean_transactions',
           count(transaction_id) - count(DISTINCT transaction_id), count(*)
    FROM silver.clean_transactions
    UNION ALL
    SELECT 'duplicate_transaction_ids', 'gold.fact_transactions',
           count(transaction_id) - count(DISTINCT transaction_id), count(*)
    FROM gold.fact_transactions
) c
