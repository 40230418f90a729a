-- Null rate of each required silver column over rows ingested in the last lookback_hours (threshold: < 5 per cent).
-- Invalid rows stay in silver (flagged), so nulls that arrived in bronze show up here.
WITH w AS (
    SELECT count(*) AS n,
           count(*) FILTER (WHERE transaction_id IS NULL) AS transaction_id,
           count(*) FILTER (WHERE customer_id IS NULL) AS customer_id,
           count(*) FILTER (WHERE store_id IS NULL) AS store_id,
           count(*) FILTER (WHERE amount IS NULL) AS amount,
           count(*) FILTER (WHERE currency IS NULL) AS currency,
           count(*) FILTER (WHERE payment_method IS NULL) AS payment_method,
           count(*) FILTER (WHERE installments IS NULL) AS installments,
           count(*) FILTER (WHERE latitude IS NULL) AS latitude,
           count(*) FILTER (WHERE longitude IS NULL) AS longitude,
           count(*) FILTER (WHERE event_time IS NULL) AS event_time
    FROM silver.transactions
    WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)
)
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT 'null_rate:' || v.col, 'silver.transactions', round(coalesce(v.nulls::numeric / nullif(w.n, 0), 0), 6), 0.05,
       coalesce(v.nulls::numeric / nullif(w.n, 0), 0) < 0.05,
       v.nulls || ' nulls in ' || w.n || ' rows ingested in the last ' || %(lookback_hours)s::text || ' h', now()
FROM w CROSS JOIN LATERAL (VALUES
    ('transaction_id', w.transaction_id), ('customer_id', w.customer_id), ('store_id', w.store_id),
    ('amount', w.amount), ('currency', w.currency), ('payment_method', w.payment_method),
    ('installments', w.installments), ('latitude', w.latitude), ('longitude', w.longitude),
    ('event_time', w.event_time)
) AS v(col, nulls)
