-- Issue 20: the warehouse the original design specifies (../shared/design/warehouse_ddl.sql), reached from the
-- schema of migrations 001-014 without losing a row. One name per concept: where we had our own name for a design
-- column it is renamed (topic -> kafka_topic, payload -> raw_payload, event_time -> transaction_at, ...), not
-- duplicated; the design's types and constraints (NOT NULL, keys, foreign keys, checks) are adopted; the columns we
-- lacked are added and back-filled from what the database already holds. Our additions stay: lineage, rule_scores,
-- enrichment, inferred members, ops tables. tests/integration/test_design_contract.py compares the result with the
-- design's DDL; docs/ARCHITECTURE.md (ADR-017) lists the decisions.

-- What kind of alert a set of rule contributions is (the same definition as streamflow.rules.alert_type): a
-- blacklist hit, else the rule with the largest contribution (ties: rule order). Only for back-filling old rows.
CREATE FUNCTION pg_temp.alert_type(rule_scores jsonb, rules_triggered text[]) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN 'FR-005' = ANY (coalesce(rules_triggered, '{}')) THEN 'blacklist' ELSE coalesce((
        SELECT r.name
        FROM jsonb_each_text(coalesce(rule_scores, '{}')) s(rule_id, score)
        JOIN (VALUES ('FR-001', 'high_value', 1), ('FR-002', 'velocity', 2), ('FR-003', 'geographic', 3),
                     ('FR-004', 'time_anomaly', 4), ('FR-005', 'blacklist', 5), ('FR-006', 'episode', 6),
                     ('FR-007', 'hour_risk', 7)) r(rule_id, name, pos) USING (rule_id)
        ORDER BY s.score::float8 DESC, r.pos LIMIT 1), 'unknown') END
$$;

-- bronze.raw_transactions: the design's lineage and payload names and types, and the event contract's version.
-- Rows written before this migration were validated by contract version 1 (the column's default).
ALTER TABLE bronze.raw_transactions RENAME COLUMN topic TO kafka_topic;
ALTER TABLE bronze.raw_transactions RENAME COLUMN "partition" TO kafka_partition;
ALTER TABLE bronze.raw_transactions RENAME COLUMN "offset" TO kafka_offset;
ALTER TABLE bronze.raw_transactions RENAME COLUMN payload TO raw_payload;
ALTER TABLE bronze.raw_transactions RENAME COLUMN event_time TO event_timestamp;
ALTER INDEX bronze.raw_transactions_event_time_ix RENAME TO raw_transactions_event_timestamp_ix;
UPDATE bronze.raw_transactions SET event_timestamp = ingested_at WHERE event_timestamp IS NULL;
ALTER TABLE bronze.raw_transactions
    ALTER COLUMN kafka_topic TYPE varchar(100),
    ALTER COLUMN kafka_partition TYPE smallint,
    ALTER COLUMN event_timestamp SET NOT NULL,
    ADD COLUMN schema_version smallint NOT NULL DEFAULT 1;

-- bronze.raw_fraud_alerts: alert_type, the design's payload name and types (rules_triggered as JSONB, scores with
-- three decimals: the alert's exact score stays in raw_payload).
ALTER TABLE bronze.raw_fraud_alerts RENAME COLUMN payload TO raw_payload;
ALTER TABLE bronze.raw_fraud_alerts RENAME COLUMN event_time TO transaction_at;
ALTER TABLE bronze.raw_fraud_alerts
    ADD COLUMN alert_type varchar(50),
    ADD COLUMN schema_version smallint NOT NULL DEFAULT 1;
UPDATE bronze.raw_fraud_alerts
SET alert_type = coalesce(raw_payload ->> 'alert_type', pg_temp.alert_type(rule_scores, rules_triggered)),
    customer_id = coalesce(customer_id, raw_payload ->> 'customer_id', 'unknown'),
    fraud_score = coalesce(fraud_score, 0),
    detected_at = coalesce(detected_at, ingested_at);
ALTER TABLE bronze.raw_fraud_alerts
    ALTER COLUMN alert_type SET NOT NULL,
    ALTER COLUMN customer_id SET NOT NULL,
    ALTER COLUMN fraud_score TYPE numeric(4,3) USING round(fraud_score::numeric, 3),
    ALTER COLUMN fraud_score SET NOT NULL,
    ALTER COLUMN rules_triggered TYPE jsonb USING to_jsonb(coalesce(rules_triggered, '{}')),
    ALTER COLUMN rules_triggered SET NOT NULL,
    ALTER COLUMN detected_at SET DEFAULT now(),
    ALTER COLUMN detected_at SET NOT NULL;
CREATE INDEX IF NOT EXISTS raw_fraud_alerts_customer_ix ON bronze.raw_fraud_alerts (customer_id);

-- silver.fraud_alerts (ours): the same names and types as bronze.
ALTER TABLE silver.fraud_alerts RENAME COLUMN event_time TO transaction_at;
ALTER TABLE silver.fraud_alerts ADD COLUMN alert_type varchar(50);
UPDATE silver.fraud_alerts SET alert_type = pg_temp.alert_type(rule_scores, rules_triggered);
ALTER TABLE silver.fraud_alerts
    ALTER COLUMN alert_type SET NOT NULL,
    ALTER COLUMN fraud_score TYPE numeric(4,3) USING round(fraud_score::numeric, 3);

-- silver.transactions becomes the design's silver.clean_transactions, keyed by transaction_id. A bronze row that
-- lacks what the design requires of every silver row (ids, a positive amount, a parsable time) cannot live there:
-- it goes to silver.rejected_transactions with its reasons, so nothing vanishes. (Through the stream, bronze only
-- receives events the contract accepted; such rows come from writes that bypass the transaction-processor.)
ALTER TABLE silver.transactions RENAME TO clean_transactions;
ALTER TABLE silver.clean_transactions RENAME COLUMN event_time TO transaction_at;
ALTER TABLE silver.clean_transactions RENAME COLUMN loaded_at TO cleaned_at;
ALTER INDEX silver.transactions_change_seq_ix RENAME TO clean_transactions_change_seq_ix;
ALTER INDEX silver.transactions_ingested_at_brin RENAME TO clean_transactions_ingested_at_brin;

CREATE TABLE silver.rejected_transactions (
    bronze_id        bigint PRIMARY KEY,              -- bronze.raw_transactions.id (lineage)
    transaction_id   text,                            -- the payload's, when it had one
    reasons          text[] NOT NULL,                 -- the failed checks, e.g. {missing_customer_id}
    raw_payload      jsonb,
    kafka_topic      varchar(100),
    kafka_partition  smallint,
    kafka_offset     bigint,
    ingested_at      timestamptz NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_transactions_ingested_at_ix ON silver.rejected_transactions (ingested_at);

INSERT INTO silver.rejected_transactions (bronze_id, transaction_id, reasons, raw_payload, kafka_topic,
                                          kafka_partition, kafka_offset, ingested_at)
SELECT t.bronze_id, t.transaction_id, t.quality_checks, b.raw_payload, t.kafka_topic, t.kafka_partition,
       t.kafka_offset, t.ingested_at
FROM silver.clean_transactions t
LEFT JOIN bronze.raw_transactions b ON b.id = t.bronze_id
WHERE t.transaction_id IS NULL OR t.customer_id IS NULL OR t.store_id IS NULL OR t.amount IS NULL
   OR t.amount <= 0 OR t.transaction_at IS NULL;
DELETE FROM silver.clean_transactions t USING silver.rejected_transactions r WHERE r.bronze_id = t.bronze_id;

UPDATE silver.clean_transactions SET currency = 'BRL' WHERE currency IS NULL;
ALTER TABLE silver.clean_transactions DROP CONSTRAINT transactions_pkey;
DROP INDEX silver.transactions_transaction_id_uq;
ALTER TABLE silver.clean_transactions
    ADD CONSTRAINT clean_transactions_pkey PRIMARY KEY (transaction_id),
    ADD CONSTRAINT clean_transactions_bronze_id_uq UNIQUE (bronze_id),
    ALTER COLUMN customer_id SET NOT NULL,
    ALTER COLUMN store_id SET NOT NULL,
    ALTER COLUMN amount SET NOT NULL,
    ALTER COLUMN transaction_at SET NOT NULL,
    ALTER COLUMN currency SET DEFAULT 'BRL',
    ALTER COLUMN currency SET NOT NULL,
    ALTER COLUMN latitude TYPE numeric(9,6)
        USING CASE WHEN latitude BETWEEN -90 AND 90 THEN round(latitude::numeric, 6) END,
    ALTER COLUMN longitude TYPE numeric(9,6)
        USING CASE WHEN longitude BETWEEN -180 AND 180 THEN round(longitude::numeric, 6) END,
    ALTER COLUMN fraud_score TYPE numeric(4,3) USING round(fraud_score::numeric, 3),
    ALTER COLUMN quality_checks DROP DEFAULT,
    ALTER COLUMN quality_checks TYPE jsonb USING to_jsonb(quality_checks),
    ALTER COLUMN quality_checks SET DEFAULT '[]',
    ADD CONSTRAINT chk_amount_positive CHECK (amount > 0),
    ADD CONSTRAINT chk_fraud_score_range CHECK (fraud_score BETWEEN 0 AND 1);

-- silver.customers: who they are (reference data) and how they behave (maintained from clean_transactions by
-- sql/transforms/silver/customers.sql). A customer seen in transactions before its reference data arrives gets an
-- inferred row (is_inferred, name 'unknown'), completed by the next seed. risk_profile: see customers.sql.
ALTER TABLE silver.customers RENAME COLUMN loaded_at TO updated_at;
ALTER TABLE silver.customers
    ADD COLUMN name varchar(200),
    ADD COLUMN email varchar(200),
    ADD COLUMN city varchar(100),
    ADD COLUMN avg_transaction_amt numeric(12,2) DEFAULT 0,
    ADD COLUMN total_transactions integer DEFAULT 0,
    ADD COLUMN risk_profile varchar(20) DEFAULT 'normal',
    ADD COLUMN first_seen_at timestamptz,
    ADD COLUMN last_seen_at timestamptz,                -- the latest transaction (ours: the risk window ends here)
    ADD COLUMN total_amount numeric(16,2) NOT NULL DEFAULT 0,  -- ours: the running sum behind avg_transaction_amt
    ADD COLUMN is_inferred boolean NOT NULL DEFAULT false,
    ALTER COLUMN state DROP NOT NULL,
    ALTER COLUMN latitude DROP NOT NULL,
    ALTER COLUMN longitude DROP NOT NULL,
    ALTER COLUMN created_at DROP NOT NULL;
UPDATE silver.customers SET name = 'unknown' WHERE name IS NULL;  -- until the next `streamflow seed` names them
WITH s AS (
    SELECT customer_id, count(*) AS n, sum(amount) AS amount, round(avg(amount), 2) AS avg_amt, min(transaction_at) AS first_at,
           max(transaction_at) AS last_at
    FROM silver.clean_transactions WHERE is_valid GROUP BY customer_id
)
UPDATE silver.customers c
SET total_transactions = s.n, total_amount = s.amount, avg_transaction_amt = s.avg_amt, first_seen_at = s.first_at, last_seen_at = s.last_at
FROM s WHERE s.customer_id = c.customer_id;
UPDATE silver.customers SET first_seen_at = updated_at WHERE first_seen_at IS NULL;
ALTER TABLE silver.customers
    ALTER COLUMN name SET NOT NULL,
    ALTER COLUMN first_seen_at SET DEFAULT now(),
    ALTER COLUMN first_seen_at SET NOT NULL;

-- silver.stores and silver.products: the design's descriptive columns.
ALTER TABLE silver.stores RENAME COLUMN loaded_at TO updated_at;
ALTER TABLE silver.stores
    ADD COLUMN city varchar(100),
    ADD COLUMN category varchar(50),
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ALTER COLUMN latitude TYPE numeric(9,6) USING round(latitude::numeric, 6),
    ALTER COLUMN longitude TYPE numeric(9,6) USING round(longitude::numeric, 6);
UPDATE silver.stores SET city = 'unknown', created_at = updated_at WHERE city IS NULL;
ALTER TABLE silver.stores ALTER COLUMN city SET NOT NULL;

ALTER TABLE silver.products RENAME COLUMN loaded_at TO updated_at;
ALTER TABLE silver.products
    ADD COLUMN name varchar(200),
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
UPDATE silver.products SET name = 'unknown', created_at = updated_at WHERE name IS NULL;
ALTER TABLE silver.products ALTER COLUMN name SET NOT NULL;

-- gold dimensions. Inferred members get the design's required descriptions as 'unknown' ('--' for a state).
ALTER TABLE gold.dim_date RENAME COLUMN date TO full_date;

ALTER TABLE gold.dim_customer RENAME COLUMN updated_at TO valid_from;  -- SCD type 1: when this version was written
ALTER TABLE gold.dim_customer
    ADD COLUMN name varchar(200),
    ADD COLUMN city varchar(100),
    ADD COLUMN risk_profile varchar(20) DEFAULT 'normal';
UPDATE gold.dim_customer d SET name = coalesce(c.name, 'unknown'), city = c.city,
                               risk_profile = coalesce(c.risk_profile, 'normal')
FROM gold.dim_customer x LEFT JOIN silver.customers c ON c.customer_id = x.customer_id
WHERE x.customer_key = d.customer_key;
ALTER TABLE gold.dim_customer ALTER COLUMN name SET NOT NULL;

ALTER TABLE gold.dim_store ADD COLUMN city varchar(100), ADD COLUMN category varchar(50);
UPDATE gold.dim_store SET name = coalesce(name, 'unknown'), city = 'unknown', state = coalesce(state, '--');
ALTER TABLE gold.dim_store
    ALTER COLUMN name SET NOT NULL,
    ALTER COLUMN city SET NOT NULL,
    ALTER COLUMN state SET NOT NULL;

ALTER TABLE gold.dim_product ADD COLUMN name varchar(200);
UPDATE gold.dim_product SET name = 'unknown', category = coalesce(category, 'unknown'), price = coalesce(price, 0);
ALTER TABLE gold.dim_product
    ALTER COLUMN name SET NOT NULL,
    ALTER COLUMN category SET NOT NULL,
    ALTER COLUMN price SET NOT NULL;

-- gold facts: transaction_at, alert_type, the design's score type, optional location and payment method, and the
-- star's foreign keys (the dimensions are always loaded before the facts, inferred members included).
ALTER TABLE gold.fact_transactions RENAME COLUMN event_time TO transaction_at;
ALTER TABLE gold.fact_transactions RENAME COLUMN event_hour TO hour_timestamp;
ALTER INDEX gold.fact_transactions_hour_ix RENAME TO fact_transactions_hour_timestamp_ix;
ALTER TABLE gold.fact_transactions
    ALTER COLUMN fraud_score TYPE numeric(4,3) USING round(fraud_score::numeric, 3),
    ALTER COLUMN payment_method DROP NOT NULL,
    ALTER COLUMN latitude DROP NOT NULL,
    ALTER COLUMN longitude DROP NOT NULL,
    ADD CONSTRAINT fact_transactions_date_fk FOREIGN KEY (date_key) REFERENCES gold.dim_date (date_key),
    ADD CONSTRAINT fact_transactions_customer_fk FOREIGN KEY (customer_key) REFERENCES gold.dim_customer (customer_key),
    ADD CONSTRAINT fact_transactions_store_fk FOREIGN KEY (store_key) REFERENCES gold.dim_store (store_key),
    ADD CONSTRAINT fact_transactions_product_fk FOREIGN KEY (product_key) REFERENCES gold.dim_product (product_key);

ALTER TABLE gold.fact_fraud_alerts RENAME COLUMN event_time TO transaction_at;
ALTER TABLE gold.fact_fraud_alerts ADD COLUMN alert_type varchar(50);
UPDATE gold.fact_fraud_alerts x
SET alert_type = coalesce(a.alert_type, 'unknown'), detected_at = coalesce(x.detected_at, x.ingested_at)
FROM gold.fact_fraud_alerts y LEFT JOIN silver.fraud_alerts a ON a.transaction_id = y.transaction_id
WHERE y.alert_key = x.alert_key;
ALTER TABLE gold.fact_fraud_alerts
    ALTER COLUMN alert_type SET NOT NULL,
    ALTER COLUMN detected_at SET NOT NULL,
    ALTER COLUMN fraud_score TYPE numeric(4,3) USING round(fraud_score::numeric, 3),
    ADD CONSTRAINT fact_fraud_alerts_date_fk FOREIGN KEY (date_key) REFERENCES gold.dim_date (date_key),
    ADD CONSTRAINT fact_fraud_alerts_customer_fk FOREIGN KEY (customer_key) REFERENCES gold.dim_customer (customer_key);

-- gold aggregates: the design's names, a surrogate id, the natural key as UNIQUE, computed_at, daily top_rule.
ALTER TABLE gold.agg_hourly_sales RENAME COLUMN event_hour TO hour_timestamp;
ALTER TABLE gold.agg_hourly_sales RENAME COLUMN tx_count TO transaction_count;
ALTER TABLE gold.agg_hourly_sales DROP CONSTRAINT agg_hourly_sales_pkey;
ALTER TABLE gold.agg_hourly_sales
    ADD COLUMN id bigserial PRIMARY KEY,
    ADD COLUMN computed_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT agg_hourly_sales_hour_store_uq UNIQUE (hour_timestamp, store_key),
    ADD CONSTRAINT agg_hourly_sales_store_fk FOREIGN KEY (store_key) REFERENCES gold.dim_store (store_key);

ALTER TABLE gold.agg_daily_fraud RENAME COLUMN tx_count TO total_txns;
ALTER TABLE gold.agg_daily_fraud RENAME COLUMN alert_count TO total_alerts;
ALTER TABLE gold.agg_daily_fraud RENAME COLUMN alert_rate TO fraud_rate;
ALTER TABLE gold.agg_daily_fraud RENAME COLUMN avg_fraud_score TO avg_score;
ALTER TABLE gold.agg_daily_fraud DROP CONSTRAINT agg_daily_fraud_pkey;
ALTER TABLE gold.agg_daily_fraud
    ALTER COLUMN fraud_rate TYPE numeric(6,4) USING round(fraud_rate::numeric, 4),
    ALTER COLUMN avg_score TYPE numeric(4,3) USING round(avg_score::numeric, 3),
    ALTER COLUMN max_fraud_score TYPE numeric(4,3) USING round(max_fraud_score::numeric, 3),
    ADD COLUMN id bigserial PRIMARY KEY,
    ADD COLUMN top_rule varchar(50),
    ADD COLUMN computed_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT agg_daily_fraud_date_uq UNIQUE (date_key),
    ADD CONSTRAINT agg_daily_fraud_date_fk FOREIGN KEY (date_key) REFERENCES gold.dim_date (date_key);
UPDATE gold.agg_daily_fraud d SET top_rule = t.rule
FROM (SELECT DISTINCT ON (x.date_key) x.date_key, r.rule
      FROM gold.fact_fraud_alerts x CROSS JOIN LATERAL unnest(x.rules_triggered) r(rule)
      GROUP BY x.date_key, r.rule ORDER BY x.date_key, count(*) DESC, r.rule) t
WHERE t.date_key = d.date_key;

-- Watermarks: silver's transactions under their new name; the customer statistics' own (a bronze id: a row's
-- change_seq moves when a late alert is attached, its bronze_id never does, so no transaction is counted twice).
UPDATE ops.watermarks SET pipeline = 'silver.clean_transactions' WHERE pipeline = 'silver.transactions';
INSERT INTO ops.watermarks (pipeline, last_id)
SELECT 'silver.customers', coalesce(max(bronze_id), 0) FROM silver.clean_transactions
ON CONFLICT (pipeline) DO NOTHING;

GRANT SELECT, INSERT, UPDATE, DELETE ON silver.rejected_transactions TO streamflow_transform;
GRANT MAINTAIN ON silver.rejected_transactions TO streamflow_transform;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA gold TO streamflow_transform;
GRANT SELECT ON ALL TABLES IN SCHEMA gold TO streamflow_reader;
