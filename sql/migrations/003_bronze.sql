-- Bronze: the raw events exactly as read from Kafka, with lineage (topic, partition, offset).
-- Append-only. The UNIQUE lineage key makes a replay after a restart harmless: the sink writes with
-- INSERT ... ON CONFLICT DO NOTHING. `id` grows with every insert: the batch layer's watermark.

CREATE TABLE IF NOT EXISTS bronze.raw_transactions (
    id              bigserial PRIMARY KEY,
    topic           text NOT NULL,
    "partition"     integer NOT NULL,
    "offset"        bigint NOT NULL,
    kafka_key       text,                           -- the record key (customer_id for transactions.raw)
    transaction_id  text,                           -- payload's transaction_id, if present (not trusted yet)
    event_time      timestamptz,                    -- payload's timestamp, if it parsed
    payload         jsonb NOT NULL,                 -- the record value as JSON (unparseable values go to the DLQ)
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_transactions_lineage_uq UNIQUE (topic, "partition", "offset")
);
CREATE INDEX IF NOT EXISTS raw_transactions_transaction_id_ix ON bronze.raw_transactions (transaction_id);
CREATE INDEX IF NOT EXISTS raw_transactions_ingested_at_ix ON bronze.raw_transactions (ingested_at);
CREATE INDEX IF NOT EXISTS raw_transactions_event_time_ix ON bronze.raw_transactions (event_time);

CREATE TABLE IF NOT EXISTS bronze.raw_fraud_alerts (
    id               bigserial PRIMARY KEY,
    transaction_id   text NOT NULL,
    customer_id      text,
    fraud_score      double precision,
    rules_triggered  text[],
    rule_scores      jsonb,
    event_time       timestamptz,                   -- the transaction's event time
    detected_at      timestamptz,                   -- when the stream job raised the alert
    payload          jsonb NOT NULL,                -- the alert as produced to fraud.alerts
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_fraud_alerts_transaction_id_uq UNIQUE (transaction_id)
);
CREATE INDEX IF NOT EXISTS raw_fraud_alerts_ingested_at_ix ON bronze.raw_fraud_alerts (ingested_at);
CREATE INDEX IF NOT EXISTS raw_fraud_alerts_detected_at_ix ON bronze.raw_fraud_alerts (detected_at);
