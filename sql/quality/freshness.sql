-- Freshness: seconds since the newest bronze row (threshold 1800 s: the stream must be flowing) and since the
-- newest fact row's ingestion (threshold 7200 s: the hourly batch must be keeping up), and the pipeline lag:
-- bronze rows older than two hours that silver has not read yet (threshold 0).
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT 'freshness_seconds', 'bronze.raw_transactions', round(extract(epoch FROM now() - m.newest)::numeric, 1), 1800,
       coalesce(extract(epoch FROM now() - m.newest) < 1800, false), 'newest ingested_at: ' || coalesce(to_char(m.newest AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', 'none'), now()
FROM (SELECT max(ingested_at) AS newest FROM bronze.raw_transactions) m
UNION ALL
SELECT 'freshness_seconds', 'gold.fact_transactions', round(extract(epoch FROM now() - m.newest)::numeric, 1), 7200,
       coalesce(extract(epoch FROM now() - m.newest) < 7200, false), 'newest ingested_at: ' || coalesce(to_char(m.newest AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', 'none'), now()
FROM (SELECT max(ingested_at) AS newest FROM gold.fact_transactions) m
UNION ALL
SELECT 'pipeline_lag_rows', 'silver.clean_transactions', count(*), 0, count(*) = 0,
       'bronze rows ingested over 2 h ago and not yet read into silver', now()
FROM bronze.raw_transactions b
WHERE b.id > (SELECT last_id FROM ops.watermarks WHERE pipeline = 'silver.clean_transactions')
  AND b.ingested_at < now() - interval '2 hours'
