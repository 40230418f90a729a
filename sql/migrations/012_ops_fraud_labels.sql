-- Ground truth where it exists (the generator's labels sidecar), so reports can measure alert precision.
CREATE TABLE IF NOT EXISTS ops.fraud_labels (
    transaction_id  text PRIMARY KEY,
    is_fraud        boolean NOT NULL,
    pattern         text,
    loaded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quality_results_run_at_ix ON ops.quality_results (run_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.fraud_labels TO streamflow_transform;
GRANT SELECT, INSERT, UPDATE ON ops.quality_results, ops.watermarks TO streamflow_transform;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ops TO streamflow_transform;
