-- Delete bronze rows older than retention_days, but only rows silver has already read (never unprocessed data).
WITH tx AS (
    DELETE FROM bronze.raw_transactions b
    USING ops.watermarks w
    WHERE w.pipeline = 'silver.clean_transactions' AND b.id <= w.last_id
      AND b.ingested_at < now() - make_interval(days => %(retention_days)s::integer)
    RETURNING 1
), al AS (
    DELETE FROM bronze.raw_fraud_alerts a
    USING ops.watermarks w
    WHERE w.pipeline = 'silver.fraud_alerts' AND a.id <= w.last_id
      AND a.ingested_at < now() - make_interval(days => %(retention_days)s::integer)
    RETURNING 1
)
SELECT (SELECT count(*) FROM tx) AS transactions_pruned, (SELECT count(*) FROM al) AS alerts_pruned
