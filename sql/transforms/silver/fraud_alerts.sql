-- bronze.raw_fraud_alerts -> silver.fraud_alerts: new alerts only (watermark on the bronze id), scores in [0, 1].
-- Rows ingested less than settle_seconds ago wait for the next run, so a writer still committing is not skipped.
WITH wm AS (
    SELECT last_id FROM ops.watermarks WHERE pipeline = 'silver.fraud_alerts'
), hi AS (
    SELECT coalesce(max(a.id), 0) AS id
    FROM bronze.raw_fraud_alerts a
    WHERE a.ingested_at <= now() - make_interval(secs => %(settle_seconds)s::float8)
), src AS (
    SELECT a.*
    FROM bronze.raw_fraud_alerts a, wm, hi
    WHERE a.id > wm.last_id AND a.id <= hi.id
), ins AS (
    INSERT INTO silver.fraud_alerts (alert_id, transaction_id, customer_id, fraud_score, rules_triggered, rule_scores,
                                     alert_type, transaction_at, detected_at, latency_ms, ingested_at, rule_version)
    SELECT a.id, a.transaction_id, a.customer_id, a.fraud_score,
           ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(a.rules_triggered) = 'array'
                                                       THEN a.rules_triggered ELSE '[]' END)),
           a.rule_scores, a.alert_type, a.transaction_at, a.detected_at,
           extract(epoch FROM a.detected_at - a.transaction_at) * 1000, a.ingested_at, a.rule_version
    FROM src a
    WHERE a.fraud_score BETWEEN 0 AND 1
    ON CONFLICT DO NOTHING
    RETURNING 1
), mark AS (
    UPDATE ops.watermarks w SET last_id = hi.id, updated_at = now()
    FROM hi WHERE w.pipeline = 'silver.fraud_alerts' AND hi.id > w.last_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM src) AS alerts_read, (SELECT count(*) FROM ins) AS alerts_loaded
