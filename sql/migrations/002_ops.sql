-- Operations: incremental-load watermarks and data-quality results.
-- (ops.schema_migrations, the migration history, is created by the migration runner itself before any migration.)

CREATE TABLE IF NOT EXISTS ops.watermarks (
    pipeline    text PRIMARY KEY,                   -- e.g. 'silver.transactions'
    last_id     bigint NOT NULL DEFAULT 0,          -- the last source id (or sequence value) loaded
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ops.quality_results (
    id              bigserial PRIMARY KEY,
    check_name      text NOT NULL,                  -- e.g. 'not_null', 'unique', 'accepted_range', 'freshness'
    table_name      text NOT NULL,                  -- e.g. 'silver.transactions'
    measured_value  numeric,                        -- what was measured (failing rows, lag seconds, ...)
    threshold       numeric,                        -- the limit it is compared with
    passed          boolean NOT NULL,
    details         text,
    run_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quality_results_check_ix ON ops.quality_results (table_name, check_name, run_at DESC);

-- The batch layer moves its watermarks and records its checks.
GRANT SELECT, INSERT, UPDATE ON ops.watermarks, ops.quality_results TO streamflow_transform;
GRANT USAGE, SELECT ON SEQUENCE ops.quality_results_id_seq TO streamflow_transform;
