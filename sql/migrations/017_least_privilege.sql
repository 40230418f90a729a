-- Least privilege, tightened (issue 18).
--
-- Bronze is append-only for every role but the owner: the transform role reads it (and may VACUUM/ANALYZE it)
-- but can no longer delete from it. Retention is the one exception, and it goes through one narrow door:
-- ops.prune_bronze, a SECURITY DEFINER function that deletes only rows older than the retention period that
-- silver has already read. The transform role (the maintenance DAG) may call it and nothing more.
REVOKE DELETE, UPDATE, TRUNCATE ON bronze.raw_transactions, bronze.raw_fraud_alerts FROM streamflow_transform;

CREATE FUNCTION ops.prune_bronze(retention_days integer)
    RETURNS TABLE (transactions_pruned bigint, alerts_pruned bigint)
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp   -- a definer function must not resolve names through the caller's path
BEGIN ATOMIC
    WITH tx AS (
        DELETE FROM bronze.raw_transactions b
        USING ops.watermarks w
        WHERE w.pipeline = 'silver.clean_transactions' AND b.id <= w.last_id
          AND b.ingested_at < now() - make_interval(days => greatest(retention_days, 0))
        RETURNING 1
    ), al AS (
        DELETE FROM bronze.raw_fraud_alerts a
        USING ops.watermarks w
        WHERE w.pipeline = 'silver.fraud_alerts' AND a.id <= w.last_id
          AND a.ingested_at < now() - make_interval(days => greatest(retention_days, 0))
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM tx), (SELECT count(*) FROM al);
END;

REVOKE ALL ON FUNCTION ops.prune_bronze(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.prune_bronze(integer) TO streamflow_transform;

-- The report notebooks connect as the reader. Besides gold they show the latest quality results, the labels
-- (precision) and why rows were invalid or rejected in silver: exactly those columns, nothing else of silver.
GRANT USAGE ON SCHEMA silver, ops TO streamflow_reader;
GRANT SELECT ON ops.quality_results, ops.fraud_labels TO streamflow_reader;
GRANT SELECT (ingested_at, is_valid, quality_checks) ON silver.clean_transactions TO streamflow_reader;
GRANT SELECT (ingested_at, reasons) ON silver.rejected_transactions TO streamflow_reader;

-- Exact coordinates of customers (their home, where they paid) are personal data that no report needs: the
-- reader sees every other column of gold.dim_customer and gold.fact_transactions. (The transform role, which
-- computes distances, keeps them.)
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dim_customer', 'fact_transactions'] LOOP
        EXECUTE format('REVOKE SELECT ON gold.%I FROM streamflow_reader', t);
        EXECUTE (SELECT format('GRANT SELECT (%s) ON gold.%I TO streamflow_reader',
                               string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position), t)
                 FROM information_schema.columns
                 WHERE table_schema = 'gold' AND table_name = t AND column_name NOT IN ('latitude', 'longitude'));
    END LOOP;
END $$;

-- Nobody connects or creates temporary tables by default; each role is let in by name. The transform role keeps
-- TEMPORARY: loading labels stages them in a temporary table.
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO streamflow_writer, streamflow_transform, streamflow_reader',
                   current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO streamflow_transform', current_database());
END $$;
