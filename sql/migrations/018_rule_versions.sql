-- Versioned rule sets (issue 16, ADR-022).
--
-- Every alert records the version of the rule set that raised it (a hash of the rules' content,
-- streamflow.messages.rules_version), from bronze through silver to gold, so a report can split alerts by version.
-- Alerts raised before this migration have none (NULL).
ALTER TABLE bronze.raw_fraud_alerts ADD COLUMN IF NOT EXISTS rule_version text;
ALTER TABLE silver.fraud_alerts ADD COLUMN IF NOT EXISTS rule_version text;
ALTER TABLE gold.fact_fraud_alerts ADD COLUMN IF NOT EXISTS rule_version text;
CREATE INDEX IF NOT EXISTS fact_fraud_alerts_rule_version_ix ON gold.fact_fraud_alerts (rule_version);

-- Every rule set that was ever active or shadowed, by version: its content and where it came from (who, the
-- file and its hash, the tuning run's held-out metrics). Written by `streamflow rules publish|rollback`.
CREATE TABLE IF NOT EXISTS ops.rule_versions (
    version      text PRIMARY KEY,
    label        text,
    rules        jsonb NOT NULL,
    provenance   jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every change of the active rule set: what replaced what, who and why, the planned switch point (per source
-- partition of transactions.raw, the first offset the new version scores) and the switch point the detector
-- recorded on transactions.scored (NULL per partition until an event of that partition was scored after it).
CREATE TABLE IF NOT EXISTS ops.rule_switches (
    switch_id         bigserial PRIMARY KEY,
    version           text NOT NULL REFERENCES ops.rule_versions (version),
    previous_version  text REFERENCES ops.rule_versions (version),
    action            text NOT NULL CHECK (action IN ('publish', 'rollback', 'shadow', 'shadow-stop')),
    by_whom           text NOT NULL,
    reason            text,
    published_at      timestamptz NOT NULL DEFAULT now(),
    planned_offsets   jsonb NOT NULL,
    switch_offsets    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rule_switches_version_ix ON ops.rule_switches (version);

-- A shadowed candidate's decisions where either rule set alerted (every decision is on the fraud.shadow topic):
-- what `streamflow rules shadow-report` and SQL can compare without replaying anything. Written by the detector.
CREATE TABLE IF NOT EXISTS bronze.shadow_decisions (
    id                      bigserial PRIMARY KEY,
    transaction_id          text NOT NULL,
    customer_id             text,
    store_id                text,
    event_time_ms           bigint,
    source_partition        integer NOT NULL,
    source_offset           bigint NOT NULL,
    active_version          text NOT NULL,
    active_is_alert         boolean NOT NULL,
    active_fraud_score      double precision,
    active_rules_triggered  jsonb,
    shadow_version          text NOT NULL,
    shadow_is_alert         boolean NOT NULL,
    shadow_fraud_score      double precision,
    shadow_rules_triggered  jsonb,
    ingested_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shadow_decisions_uq UNIQUE (transaction_id, shadow_version)
);
CREATE INDEX IF NOT EXISTS shadow_decisions_version_ix ON bronze.shadow_decisions (shadow_version, ingested_at);
GRANT INSERT ON bronze.shadow_decisions TO streamflow_writer;
GRANT USAGE ON SEQUENCE bronze.shadow_decisions_id_seq TO streamflow_writer;
GRANT SELECT ON bronze.shadow_decisions TO streamflow_transform;  -- like the rest of bronze: not the reader

-- The reports (reader) show which version raised which alerts; the tables are written by the owner (the CLI).
GRANT SELECT ON ops.rule_versions, ops.rule_switches TO streamflow_reader, streamflow_transform;
