-- Referential integrity of the star schema (threshold: 0 orphans each), and completeness: every valid silver
-- row that gold has read must be in fact_transactions.
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT c.check_name, c.table_name, c.orphans, 0, c.orphans = 0, c.details, now()
FROM (
    SELECT 'orphan_customer_key' AS check_name, 'gold.fact_transactions' AS table_name, count(*) AS orphans,
           'fact rows whose customer_key is not in dim_customer' AS details
    FROM gold.fact_transactions f WHERE NOT EXISTS (SELECT 1 FROM gold.dim_customer d WHERE d.customer_key = f.customer_key)
    UNION ALL
    SELECT 'orphan_store_key', 'gold.fact_transactions', count(*), 'fact rows whose store_key is not in dim_store'
    FROM gold.fact_transactions f WHERE NOT EXISTS (SELECT 1 FROM gold.dim_store d WHERE d.store_key = f.store_key)
    UNION ALL
    SELECT 'orphan_product_key', 'gold.fact_transactions', count(*), 'fact rows whose product_key is not in dim_product'
    FROM gold.fact_transactions f
    WHERE f.product_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM gold.dim_product d WHERE d.product_key = f.product_key)
    UNION ALL
    SELECT 'orphan_date_key', 'gold.fact_transactions', count(*), 'fact rows whose date_key is not in dim_date'
    FROM gold.fact_transactions f WHERE NOT EXISTS (SELECT 1 FROM gold.dim_date d WHERE d.date_key = f.date_key)
    UNION ALL
    SELECT 'orphan_transaction_key', 'gold.fact_fraud_alerts', count(*), 'alert rows without their fact_transactions row'
    FROM gold.fact_fraud_alerts x
    WHERE NOT EXISTS (SELECT 1 FROM gold.fact_transactions f WHERE f.transaction_key = x.transaction_key)
    UNION ALL
    SELECT 'missing_in_gold', 'gold.fact_transactions', count(*), 'valid silver rows already read by gold but not in the fact table'
    FROM silver.clean_transactions t
    WHERE t.is_valid AND t.change_seq <= (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch')
      AND NOT EXISTS (SELECT 1 FROM gold.fact_transactions f WHERE f.transaction_id = t.transaction_id)
) c
