-- Medallion schemas and least-privilege roles (issue 3).
--   bronze: raw events with Kafka lineage, append-only   silver: typed, validated, deduplicated
--   gold:   star schema for the questions people ask     ops:    migration history, watermarks, quality results
-- Roles are created without passwords here: `streamflow migrate` sets them from the environment or the
-- git-ignored secrets file, so no password is ever in a committed file.
--   streamflow_writer     inserts into bronze only (the Flink sinks)
--   streamflow_transform  reads bronze, writes silver and gold (the batch layer)
--   streamflow_reader     reads gold only (dashboards, reports)

CREATE SCHEMA IF NOT EXISTS bronze;
CREATE SCHEMA IF NOT EXISTS silver;
CREATE SCHEMA IF NOT EXISTS gold;
CREATE SCHEMA IF NOT EXISTS ops;

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['streamflow_writer', 'streamflow_transform', 'streamflow_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT', r);
        END IF;
    END LOOP;
END $$;

-- Nobody but the owner gets anything by default; then each role gets exactly its layer.
REVOKE ALL ON SCHEMA bronze, silver, gold, ops FROM PUBLIC;

GRANT USAGE ON SCHEMA bronze TO streamflow_writer, streamflow_transform;
GRANT USAGE ON SCHEMA silver TO streamflow_transform;
GRANT USAGE ON SCHEMA gold TO streamflow_transform, streamflow_reader;
GRANT USAGE ON SCHEMA ops TO streamflow_transform;

-- Tables and sequences the owner creates later (this and later migrations) get the right grants automatically.
ALTER DEFAULT PRIVILEGES IN SCHEMA bronze GRANT INSERT ON TABLES TO streamflow_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA bronze GRANT USAGE ON SEQUENCES TO streamflow_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA bronze GRANT SELECT ON TABLES TO streamflow_transform;

ALTER DEFAULT PRIVILEGES IN SCHEMA silver GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO streamflow_transform;
ALTER DEFAULT PRIVILEGES IN SCHEMA silver GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO streamflow_transform;

ALTER DEFAULT PRIVILEGES IN SCHEMA gold GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO streamflow_transform;
ALTER DEFAULT PRIVILEGES IN SCHEMA gold GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO streamflow_transform;
ALTER DEFAULT PRIVILEGES IN SCHEMA gold GRANT SELECT ON TABLES TO streamflow_reader;

-- Functions created by the owner are not executable by PUBLIC unless granted.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
