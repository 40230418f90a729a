-- Null rate of each field every silver row requires, over the bronze rows read in the last lookback_hours
-- (threshold: < 5 per cent). A row missing one of them is rejected (silver.rejected_transactions, the reason
-- names the field), so the rate is the rejects' share; installments, which has a default, is measured on the clean
-- rows. The event contract's optional fields (product_id, payment_method, latitude, longitude) are not checked:
-- their absence is not a defect.
WITH c AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE installments IS NULL) AS installments
    FROM silver.clean_transactions
    WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)
), r AS (
    SELECT count(*) AS n,
           count(*) FILTER (WHERE 'missing_transaction_id' = ANY (reasons)) AS transaction_id,
           count(*) FILTER (WHERE 'missing_customer_id' = ANY (reasons)) AS customer_id,
           count(*) FILTER (WHERE 'missing_store_id' = ANY (reasons)) AS store_id,
           count(*) FILTER (WHERE 'missing_or_bad_amount' = ANY (reasons)) AS amount,
           count(*) FILTER (WHERE 'missing_or_bad_timestamp' = ANY (reasons)) AS transaction_at
    FROM silver.rejected_transactions
    WHERE ingested_at >= now() - make_interval(hours => %(lookback_hours)s::integer)
), w AS (
    SELECT c.n + r.n AS n, r.transaction_id, r.customer_id, r.store_id, r.amount, r.transaction_at, c.installments
    FROM c, r
)
INSERT INTO ops.quality_results (check_name, table_name, measured_value, threshold, passed, details, run_at)
SELECT 'null_rate:' || v.col, 'silver.clean_transactions', round(coalesce(v.nulls::numeric / nullif(w.n, 0), 0), 6),
       0.05, coalesce(v.nulls::numeric / nullif(w.n, 0), 0) < 0.05,
       to_char(v.nulls, 'FM999,999,999,990') || ' missing in ' || to_char(w.n, 'FM999,999,999,990') || ' rows ingested in the last ' || %(lookback_hours)s::text || ' h', now()
FROM w CROSS JOIN LATERAL (VALUES
    ('transaction_id', w.transaction_id), ('customer_id', w.customer_id), ('store_id', w.store_id),
    ('amount', w.amount), ('transaction_at', w.transaction_at), ('installments', w.installments)
) AS v(col, nulls)
