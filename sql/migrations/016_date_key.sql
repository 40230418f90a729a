-- One definition of gold's date key (YYYYMMDD of a UTC date), used by dim_date, fact_transactions and
-- agg_daily_fraud, so the three can never disagree. IMMUTABLE on a date (not a timestamptz: the caller says which
-- day, in UTC, so the session's TimeZone cannot change a key).
CREATE FUNCTION gold.date_key(d date) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (extract(year FROM d) * 10000 + extract(month FROM d) * 100 + extract(day FROM d))::integer;

REVOKE ALL ON FUNCTION gold.date_key(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gold.date_key(date) TO streamflow_transform, streamflow_reader;
