-- gold.fact_fraud_alerts: one row per alerted (valid) transaction in this batch, keyed like its fact row,
-- with the alert's type, score, rules and detection latency. Upsert; unchanged rows are not rewritten.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), chg AS (
    SELECT t.transaction_id FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid AND t.is_fraud
)
INSERT INTO gold.fact_fraud_alerts AS x (
    transaction_key, transaction_id, date_key, customer_key, store_key, amount, alert_type, fraud_score,
    rules_triggered, rule_count, transaction_at, detected_at, latency_ms, ingested_at, rule_version)
SELECT f.transaction_key, f.transaction_id, f.date_key, f.customer_key, f.store_key, f.amount, a.alert_type,
       a.fraud_score, a.rules_triggered, cardinality(a.rules_triggered), f.transaction_at, a.detected_at,
       a.latency_ms, a.ingested_at, a.rule_version
FROM chg t
JOIN gold.fact_transactions f ON f.transaction_id = t.transaction_id
JOIN silver.fraud_alerts a ON a.transaction_id = t.transaction_id
ON CONFLICT (transaction_id) DO UPDATE
SET alert_type = excluded.alert_type, fraud_score = excluded.fraud_score, rules_triggered = excluded.rules_triggered,
    rule_count = excluded.rule_count, detected_at = excluded.detected_at, latency_ms = excluded.latency_ms,
    ingested_at = excluded.ingested_at, rule_version = excluded.rule_version, loaded_at = now()
WHERE (x.alert_type, x.fraud_score, x.rules_triggered, x.detected_at, x.latency_ms, x.ingested_at, x.rule_version)
      IS DISTINCT FROM (excluded.alert_type, excluded.fraud_score, excluded.rules_triggered, excluded.detected_at,
                        excluded.latency_ms, excluded.ingested_at, excluded.rule_version)
