-- Reclaim space after pruning and refresh planner statistics (run with autocommit: VACUUM cannot run in a transaction).
VACUUM (ANALYZE) bronze.raw_transactions;
VACUUM (ANALYZE) bronze.raw_fraud_alerts;
VACUUM (ANALYZE) silver.clean_transactions;
VACUUM (ANALYZE) silver.rejected_transactions;
VACUUM (ANALYZE) silver.customers;
VACUUM (ANALYZE) silver.fraud_alerts;
VACUUM (ANALYZE) gold.fact_transactions;
VACUUM (ANALYZE) gold.fact_fraud_alerts;
VACUUM (ANALYZE) gold.agg_hourly_sales;
VACUUM (ANALYZE) gold.agg_daily_fraud;
VACUUM (ANALYZE) gold.dim_customer;
VACUUM (ANALYZE) gold.dim_store;
VACUUM (ANALYZE) gold.dim_product;
VACUUM (ANALYZE) gold.dim_date;
