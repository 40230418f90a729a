-- Alerts that arrive after their transaction reached silver: copy fraud_score / is_fraud onto it (and bump
-- change_seq so gold picks the change up). Unchanged rows are not touched, so a rerun changes nothing.
WITH wm AS (
    SELECT last_id FROM ops.watermarks WHERE pipeline = 'silver.attach_alerts'
), hi AS (
    SELECT coalesce(max(alert_id), 0) AS id FROM silver.fraud_alerts
), new AS (
    SELECT a.* FROM silver.fraud_alerts a, wm, hi WHERE a.alert_id > wm.last_id AND a.alert_id <= hi.id
), upd AS (
    UPDATE silver.clean_transactions t
    SET fraud_score = n.fraud_score, is_fraud = true, rules_triggered = n.rules_triggered,
        change_seq = nextval('silver.change_seq')
    FROM new n
    WHERE t.transaction_id = n.transaction_id
      AND (t.fraud_score, t.is_fraud, t.rules_triggered) IS DISTINCT FROM (n.fraud_score, true, n.rules_triggered)
    RETURNING 1
), mark AS (
    UPDATE ops.watermarks w SET last_id = hi.id, updated_at = now()
    FROM hi WHERE w.pipeline = 'silver.attach_alerts' AND hi.id > w.last_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM new) AS new_alerts, (SELECT count(*) FROM upd) AS attached_late
