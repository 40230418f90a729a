-- Silver: typed, validated, deduplicated and enriched transactions and alerts (issue 5, batch layer).
-- One row per transaction_id (the first bronze row wins); rows failing validation stay here, flagged by
-- is_valid = false and the names of the failed checks in quality_checks, so nothing vanishes silently.
-- change_seq grows on every insert or change: gold reads only rows with change_seq above its watermark.

CREATE SEQUENCE IF NOT EXISTS silver.change_seq;

CREATE TABLE IF NOT EXISTS silver.fraud_alerts (
    alert_id         bigint PRIMARY KEY,              -- bronze.raw_fraud_alerts.id (lineage)
    transaction_id   text NOT NULL UNIQUE,
    customer_id      text,
    fraud_score      double precision NOT NULL,
    rules_triggered  text[] NOT NULL DEFAULT '{}',
    rule_scores      jsonb,
    event_time       timestamptz,
    detected_at      timestamptz,
    latency_ms       double precision,                -- detected_at - event_time
    ingested_at      timestamptz NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS silver.transactions (
    bronze_id         bigint PRIMARY KEY,             -- bronze.raw_transactions.id (lineage)
    transaction_id    text,
    customer_id       text,
    store_id          text,
    product_id        text,
    amount            numeric(12,2),
    currency          text,
    payment_method    text,
    installments      integer,
    latitude          double precision,
    longitude         double precision,
    event_time        timestamptz,
    -- enrichment from reference data (null when the id is unknown)
    customer_state    text,
    store_state       text,
    product_category  text,
    distance_from_home_km double precision,           -- customer's home to where the purchase happened
    -- fraud, from the alerts
    fraud_score       double precision,               -- null when no alert was raised
    is_fraud          boolean NOT NULL DEFAULT false, -- an alert was raised
    rules_triggered   text[],
    -- quality
    is_valid          boolean NOT NULL,
    quality_checks    text[] NOT NULL DEFAULT '{}',   -- failed checks; unknown_* are warnings, not errors
    -- lineage and load bookkeeping
    kafka_topic       text,
    kafka_partition   integer,
    kafka_offset      bigint,
    ingested_at       timestamptz NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    change_seq        bigint NOT NULL DEFAULT nextval('silver.change_seq')
);

CREATE UNIQUE INDEX IF NOT EXISTS transactions_transaction_id_uq
    ON silver.transactions (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS transactions_change_seq_ix ON silver.transactions (change_seq);
CREATE INDEX IF NOT EXISTS transactions_ingested_at_ix ON silver.transactions (ingested_at);

-- Watermarks of the incremental loads (ops.watermarks is the platform's table).
INSERT INTO ops.watermarks (pipeline, last_id) VALUES
    ('silver.transactions', 0),      -- last bronze.raw_transactions.id read
    ('silver.fraud_alerts', 0),      -- last bronze.raw_fraud_alerts.id read
    ('silver.attach_alerts', 0)      -- last silver.fraud_alerts.alert_id attached to silver.transactions
ON CONFLICT (pipeline) DO NOTHING;

-- The transform role reads bronze, writes silver; it also prunes bronze and runs VACUUM/ANALYZE (maintenance).
GRANT USAGE ON SCHEMA silver TO streamflow_transform;
GRANT SELECT, INSERT, UPDATE, DELETE ON silver.transactions, silver.fraud_alerts TO streamflow_transform;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE silver.change_seq TO streamflow_transform;
GRANT SELECT, DELETE ON bronze.raw_transactions, bronze.raw_fraud_alerts TO streamflow_transform;
GRANT MAINTAIN ON bronze.raw_transactions, bronze.raw_fraud_alerts, silver.transactions, silver.fraud_alerts
    TO streamflow_transform;
