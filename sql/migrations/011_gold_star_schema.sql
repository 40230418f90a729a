-- Gold: a star schema for the questions people ask (sales by hour and store, fraud by day, who and where).
-- Dimensions carry surrogate keys; facts reference them. Ids seen in transactions before their reference
-- data arrives get an inferred member (is_inferred = true), completed when the reference data lands.

CREATE TABLE IF NOT EXISTS gold.dim_date (
    date_key     integer PRIMARY KEY,                 -- yyyymmdd (UTC date)
    date         date NOT NULL UNIQUE,
    year         smallint NOT NULL,
    quarter      smallint NOT NULL,
    month        smallint NOT NULL,
    day          smallint NOT NULL,
    day_of_week  smallint NOT NULL,                   -- ISO: 1 = Monday
    day_name     text NOT NULL,
    month_name   text NOT NULL,
    is_weekend   boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS gold.dim_customer (
    customer_key  bigserial PRIMARY KEY,
    customer_id   text NOT NULL UNIQUE,
    state         text,
    latitude      double precision,
    longitude     double precision,
    created_at    timestamptz,
    is_inferred   boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS gold.dim_store (
    store_key     bigserial PRIMARY KEY,
    store_id      text NOT NULL UNIQUE,
    name          text,
    state         text,
    latitude      double precision,
    longitude     double precision,
    is_inferred   boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS gold.dim_product (
    product_key   bigserial PRIMARY KEY,
    product_id    text NOT NULL UNIQUE,
    category      text,
    price         numeric(12,2),
    is_inferred   boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS gold.fact_transactions (
    transaction_key  bigserial PRIMARY KEY,
    transaction_id   text NOT NULL UNIQUE,
    date_key         integer NOT NULL,
    event_hour       timestamptz NOT NULL,            -- date_trunc('hour', event_time) in UTC
    customer_key     bigint NOT NULL,
    store_key        bigint NOT NULL,
    product_key      bigint,                          -- null when the transaction names no product
    event_time       timestamptz NOT NULL,
    amount           numeric(12,2) NOT NULL,
    currency         text NOT NULL,
    payment_method   text NOT NULL,
    installments     integer NOT NULL,
    latitude         double precision NOT NULL,
    longitude        double precision NOT NULL,
    distance_from_home_km double precision,
    fraud_score      double precision,
    is_fraud         boolean NOT NULL,
    ingested_at      timestamptz NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fact_transactions_hour_ix ON gold.fact_transactions (event_hour);
CREATE INDEX IF NOT EXISTS fact_transactions_date_ix ON gold.fact_transactions (date_key);
CREATE INDEX IF NOT EXISTS fact_transactions_ingested_ix ON gold.fact_transactions (ingested_at);

CREATE TABLE IF NOT EXISTS gold.fact_fraud_alerts (
    alert_key        bigserial PRIMARY KEY,
    transaction_key  bigint NOT NULL UNIQUE,
    transaction_id   text NOT NULL UNIQUE,
    date_key         integer NOT NULL,
    customer_key     bigint NOT NULL,
    store_key        bigint NOT NULL,
    amount           numeric(12,2) NOT NULL,
    fraud_score      double precision NOT NULL,
    rules_triggered  text[] NOT NULL,
    rule_count       integer NOT NULL,
    event_time       timestamptz NOT NULL,
    detected_at      timestamptz,
    latency_ms       double precision,
    ingested_at      timestamptz NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fact_fraud_alerts_date_ix ON gold.fact_fraud_alerts (date_key);

CREATE TABLE IF NOT EXISTS gold.agg_hourly_sales (
    event_hour       timestamptz NOT NULL,
    store_key        bigint NOT NULL,
    date_key         integer NOT NULL,
    tx_count         bigint NOT NULL,
    total_amount     numeric(16,2) NOT NULL,
    avg_amount       numeric(12,2) NOT NULL,
    customers        bigint NOT NULL,
    fraud_count      bigint NOT NULL,
    fraud_amount     numeric(16,2) NOT NULL,
    PRIMARY KEY (event_hour, store_key)
);

CREATE TABLE IF NOT EXISTS gold.agg_daily_fraud (
    date_key         integer PRIMARY KEY,
    tx_count         bigint NOT NULL,
    total_amount     numeric(16,2) NOT NULL,
    alert_count      bigint NOT NULL,
    alerted_amount   numeric(16,2) NOT NULL,
    alert_rate       double precision NOT NULL,
    avg_fraud_score  double precision,
    max_fraud_score  double precision,
    customers_alerted bigint NOT NULL,
    stores_alerted   bigint NOT NULL
);

INSERT INTO ops.watermarks (pipeline, last_id) VALUES
    ('gold.batch', 0),          -- last silver.transactions.change_seq loaded into gold
    ('gold.batch:target', 0)    -- upper bound of the batch in progress (set by begin_batch.sql)
ON CONFLICT (pipeline) DO NOTHING;

GRANT USAGE ON SCHEMA gold TO streamflow_transform, streamflow_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA gold TO streamflow_transform;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA gold TO streamflow_transform;
GRANT MAINTAIN ON ALL TABLES IN SCHEMA gold TO streamflow_transform;
GRANT SELECT ON ALL TABLES IN SCHEMA gold TO streamflow_reader;
