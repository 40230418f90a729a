-- silver.customers: each customer's statistics, maintained incrementally from the valid clean_transactions rows
-- loaded since the last run (watermark on bronze_id, which never changes when a late alert is attached), and its
-- risk profile. A customer seen in transactions but not in the reference data gets an inferred row (name
-- 'unknown', is_inferred) that the next `streamflow seed` completes.
--   total_transactions, total_amount: running sums; avg_transaction_amt = total_amount / total_transactions
--   first_seen_at, last_seen_at: the earliest and latest transaction time seen (first_seen_at starts at the time
--     the reference row was loaded, so it is the first time the platform saw the customer either way)
--   risk_profile, from behaviour: the customer's alerts over the risk_window_days before their latest transaction
--     (data time, so a replayed history gets the profiles it had): 'high' from risk_high_alerts alerts,
--     'elevated' from risk_elevated_alerts, else 'normal'. Re-evaluated for the batch's customers and for every
--     alerted customer (alerts are rare: about one event in a hundred), so a late alert also moves the profile.
WITH wm AS (
    SELECT last_id FROM ops.watermarks WHERE pipeline = 'silver.customers'
), hi AS (
    SELECT coalesce(max(bronze_id), 0) AS id FROM silver.clean_transactions
), batch AS (
    SELECT t.customer_id, count(*) AS n, sum(t.amount) AS amount, min(t.transaction_at) AS first_at,
           max(t.transaction_at) AS last_at
    FROM silver.clean_transactions t, wm, hi
    WHERE t.bronze_id > wm.last_id AND t.bronze_id <= hi.id AND t.is_valid
    GROUP BY t.customer_id
), cand AS (
    SELECT k.customer_id, greatest(c.last_seen_at, b.last_at) AS last_at
    FROM (SELECT customer_id FROM batch UNION SELECT customer_id FROM silver.fraud_alerts) k
    LEFT JOIN silver.customers c ON c.customer_id = k.customer_id
    LEFT JOIN batch b ON b.customer_id = k.customer_id
), risk AS (
    SELECT k.customer_id,
           CASE WHEN count(a.alert_id) >= %(risk_high_alerts)s::integer THEN 'high'
                WHEN count(a.alert_id) >= %(risk_elevated_alerts)s::integer THEN 'elevated'
                ELSE 'normal' END AS profile
    FROM cand k
    LEFT JOIN silver.fraud_alerts a
           ON a.customer_id = k.customer_id AND a.transaction_at <= k.last_at
          AND a.transaction_at > k.last_at - make_interval(days => %(risk_window_days)s::integer)
    GROUP BY k.customer_id
), src AS (
    SELECT r.customer_id, coalesce(b.n, 0) AS n, coalesce(b.amount, 0) AS amount, b.first_at, b.last_at, r.profile
    FROM risk r LEFT JOIN batch b ON b.customer_id = r.customer_id
), up AS (
    INSERT INTO silver.customers AS c (customer_id, name, is_inferred, total_transactions, total_amount,
                                       avg_transaction_amt, first_seen_at, last_seen_at, risk_profile)
    SELECT s.customer_id, 'unknown', true, s.n, s.amount, round(s.amount / nullif(s.n, 0), 2),
           coalesce(s.first_at, now()), s.last_at, s.profile
    FROM src s
    WHERE s.n > 0 OR EXISTS (SELECT 1 FROM silver.customers x WHERE x.customer_id = s.customer_id)
    ON CONFLICT (customer_id) DO UPDATE
    SET total_transactions = c.total_transactions + excluded.total_transactions,
        total_amount = c.total_amount + excluded.total_amount,
        avg_transaction_amt = CASE WHEN c.total_transactions + excluded.total_transactions > 0
            THEN round((c.total_amount + excluded.total_amount) / (c.total_transactions + excluded.total_transactions), 2)
            ELSE 0 END,
        first_seen_at = least(c.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(c.last_seen_at, excluded.last_seen_at),
        risk_profile = excluded.risk_profile,
        updated_at = now()
    WHERE excluded.total_transactions > 0 OR c.risk_profile IS DISTINCT FROM excluded.risk_profile
    RETURNING c.risk_profile
), mark AS (
    UPDATE ops.watermarks w SET last_id = hi.id, updated_at = now()
    FROM hi WHERE w.pipeline = 'silver.customers' AND hi.id > w.last_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS customers_with_new_transactions, (SELECT count(*) FROM up) AS customers_written,
       (SELECT count(*) FROM up WHERE risk_profile <> 'normal') AS customers_at_risk
