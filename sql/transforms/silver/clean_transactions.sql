-- bronze.raw_transactions -> silver.clean_transactions: new rows only (watermark on the bronze id).
-- Parses the JSONB payload into typed columns without ever failing on bad input (pg_input_is_valid), validates
-- it, keeps the first bronze row of each transaction_id (later copies, in this batch or an earlier one, are
-- dropped), enriches with customer/store/product reference data and attaches the fraud alert if one has been
-- loaded. Two kinds of failure, so nothing vanishes silently:
--   rejected: a row without what every silver row must have (the design's NOT NULLs: transaction, customer and
--     store ids, a positive amount, a parsable time) goes to silver.rejected_transactions with its reasons;
--   invalid:  a row with those but a failed plausibility check (currency, payment method, installments,
--     coordinates, a time without offset) stays, flagged: is_valid = false, the failed checks in quality_checks.
--   unknown_* entries in quality_checks are warnings (ids not in the reference data) and do not make a row invalid.
-- Optional by the event contract: product_id, payment_method, latitude and longitude (a missing one is no error).
-- Cost: one pass over the batch's bronze rows in id order (the primary key's range scan), each payload parsed
-- once. Copies are dropped by the primary key itself: rows are inserted in bronze id order with ON CONFLICT DO
-- NOTHING, so the first copy of a transaction_id wins and later ones (or ids silver already has) are skipped. No
-- anti-join: an anti-join's row estimate collapses to one row, which made the planner probe the reference tables'
-- indexes once per row (4 million probes for a million rows) instead of hashing them.
WITH wm AS (
    SELECT last_id FROM ops.watermarks WHERE pipeline = 'silver.clean_transactions'
), hi AS (
    SELECT coalesce(max(b.id), 0) AS id
    FROM bronze.raw_transactions b
    WHERE b.ingested_at <= now() - make_interval(secs => %(settle_seconds)s::float8)
), fresh AS (
    -- the batch, each payload parsed once
    SELECT b.id, b.kafka_topic, b.kafka_partition, b.kafka_offset, b.ingested_at, b.raw_payload, x.*
    FROM bronze.raw_transactions b
    CROSS JOIN wm
    CROSS JOIN hi
    CROSS JOIN LATERAL jsonb_to_record(CASE WHEN jsonb_typeof(b.raw_payload) = 'object' THEN b.raw_payload ELSE '{}' END)
        AS x(transaction_id text, customer_id text, store_id text, product_id text, amount text, currency text,
             payment_method text, installments text, latitude text, longitude text, "timestamp" text)
    WHERE b.id > wm.last_id AND b.id <= hi.id
), typed AS (
    -- OFFSET 0 keeps this a separate step, so every value is cast once here (not once per reference), and
    -- (unlike a LATERAL subquery) leaves the planner no per-row parameter to cache with a Memoize node
    SELECT r.id, r.kafka_topic, r.kafka_partition, r.kafka_offset, r.ingested_at, r.raw_payload,
        nullif(r.transaction_id, '') AS transaction_id,
        nullif(r.customer_id, '') AS customer_id,
        nullif(r.store_id, '') AS store_id,
        nullif(r.product_id, '') AS product_id,
        CASE WHEN pg_input_is_valid(r.amount, 'numeric') THEN r.amount::numeric END AS amount,
        coalesce(r.currency, 'BRL') AS currency,
        r.payment_method,
        CASE WHEN r.installments IS NULL THEN 1
             WHEN pg_input_is_valid(r.installments, 'integer') THEN r.installments::integer END AS installments,
        CASE WHEN pg_input_is_valid(r.latitude, 'float8') THEN r.latitude::float8 END AS latitude,
        CASE WHEN pg_input_is_valid(r.longitude, 'float8') THEN r.longitude::float8 END AS longitude,
        r.latitude IS NULL AND r.longitude IS NULL AS unlocated,
        CASE WHEN pg_input_is_valid(r."timestamp", 'timestamptz') THEN r."timestamp"::timestamptz END AS transaction_at,
        r."timestamp" AS ts_text
    FROM fresh r
    OFFSET 0
), checked AS (
    SELECT v.*,
           array_remove(ARRAY[
               CASE WHEN v.transaction_id IS NULL THEN 'missing_transaction_id' END,
               CASE WHEN v.customer_id IS NULL THEN 'missing_customer_id' END,
               CASE WHEN v.store_id IS NULL THEN 'missing_store_id' END,
               CASE WHEN v.amount IS NULL THEN 'missing_or_bad_amount'
                    WHEN NOT (v.amount > 0 AND v.amount < 1e10) THEN 'amount_out_of_range' END,
               CASE WHEN v.transaction_at IS NULL THEN 'missing_or_bad_timestamp' END
           ], NULL) AS fatal,
           array_remove(ARRAY[
               CASE WHEN v.amount > 0 AND scale(v.amount) > 2 THEN 'amount_out_of_range' END,
               CASE WHEN v.currency !~ '^[A-Z]{3}$' THEN 'bad_currency' END,
               CASE WHEN v.payment_method NOT IN ('credit_card', 'boleto', 'voucher', 'debit_card') THEN 'bad_payment_method' END,
               CASE WHEN v.installments IS NULL OR v.installments NOT BETWEEN 1 AND 24 THEN 'installments_out_of_range' END,
               CASE WHEN NOT v.unlocated AND (v.latitude IS NULL OR NOT (v.latitude BETWEEN -90 AND 90)) THEN 'bad_latitude' END,
               CASE WHEN NOT v.unlocated AND (v.longitude IS NULL OR NOT (v.longitude BETWEEN -180 AND 180)) THEN 'bad_longitude' END,
               CASE WHEN v.transaction_at IS NOT NULL AND v.ts_text !~ '(Z|[+-][0-9]{2}:?[0-9]{2})$' THEN 'timestamp_without_offset' END
           ], NULL) AS errors
    FROM typed v
    OFFSET 0
), rej AS (
    INSERT INTO silver.rejected_transactions (bronze_id, transaction_id, reasons, raw_payload, kafka_topic,
                                              kafka_partition, kafka_offset, ingested_at)
    SELECT t.id, t.transaction_id, t.fatal, t.raw_payload, t.kafka_topic, t.kafka_partition, t.kafka_offset,
           t.ingested_at
    FROM checked t WHERE cardinality(t.fatal) > 0
    ON CONFLICT DO NOTHING
    RETURNING 1
), ins AS (
    INSERT INTO silver.clean_transactions (
        bronze_id, transaction_id, customer_id, store_id, product_id, amount, currency, payment_method, installments,
        latitude, longitude, transaction_at, customer_state, store_state, product_category, distance_from_home_km,
        fraud_score, is_fraud, rules_triggered, is_valid, quality_checks,
        kafka_topic, kafka_partition, kafka_offset, ingested_at)
    SELECT t.id, t.transaction_id, t.customer_id, t.store_id, t.product_id, round(t.amount, 2),
           t.currency, t.payment_method, t.installments,
           CASE WHEN t.latitude BETWEEN -90 AND 90 THEN round(t.latitude::numeric, 6) END,
           CASE WHEN t.longitude BETWEEN -180 AND 180 THEN round(t.longitude::numeric, 6) END,
           t.transaction_at, c.state, s.state, pr.category,
           CASE WHEN cardinality(t.errors) = 0 AND NOT t.unlocated AND c.latitude IS NOT NULL THEN
               2 * %(earth_radius_km)s::float8 * asin(least(1, sqrt(  -- models.haversine_km
                   sin(radians(t.latitude - c.latitude) / 2) ^ 2
                   + cos(radians(c.latitude)) * cos(radians(t.latitude)) * sin(radians(t.longitude - c.longitude) / 2) ^ 2)))
           END,
           a.fraud_score, a.transaction_id IS NOT NULL, a.rules_triggered,
           cardinality(t.errors) = 0,
           to_jsonb(t.errors || array_remove(ARRAY[
               CASE WHEN c.customer_id IS NULL OR c.is_inferred THEN 'unknown_customer' END,
               CASE WHEN s.store_id IS NULL THEN 'unknown_store' END,
               CASE WHEN t.product_id IS NOT NULL AND pr.product_id IS NULL THEN 'unknown_product' END
           ], NULL)),
           t.kafka_topic, t.kafka_partition, t.kafka_offset, t.ingested_at
    FROM checked t
    LEFT JOIN silver.customers c ON c.customer_id = t.customer_id
    LEFT JOIN silver.stores s ON s.store_id = t.store_id
    LEFT JOIN silver.products pr ON pr.product_id = t.product_id
    LEFT JOIN silver.fraud_alerts a ON a.transaction_id = t.transaction_id
    WHERE cardinality(t.fatal) = 0
    ORDER BY t.id  -- the first bronze row of a transaction_id is inserted first and wins
    ON CONFLICT (transaction_id) DO NOTHING
    RETURNING is_valid
), mark AS (
    UPDATE ops.watermarks w SET last_id = hi.id, updated_at = now()
    FROM hi WHERE w.pipeline = 'silver.clean_transactions' AND hi.id > w.last_id
    RETURNING 1
), n AS (
    SELECT count(*) AS rows_read FROM bronze.raw_transactions b, wm, hi WHERE b.id > wm.last_id AND b.id <= hi.id
), loaded AS (
    SELECT count(*) AS rows_loaded, count(*) FILTER (WHERE NOT is_valid) AS rows_invalid FROM ins
), rejected AS (
    SELECT count(*) AS rows_rejected FROM rej
)
SELECT n.rows_read, loaded.rows_loaded, loaded.rows_invalid, rejected.rows_rejected,
       n.rows_read - loaded.rows_loaded - rejected.rows_rejected AS duplicates_dropped
FROM n, loaded, rejected
