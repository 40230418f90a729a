-- gold.dim_date: one row per UTC date, from the earliest date needed to days_ahead days past today.
WITH win AS (
    SELECT (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch') AS lo,
           (SELECT last_id FROM ops.watermarks WHERE pipeline = 'gold.batch:target') AS hi
), seen AS (
    SELECT min((t.transaction_at AT TIME ZONE 'UTC')::date) AS first_day, max((t.transaction_at AT TIME ZONE 'UTC')::date) AS last_day
    FROM silver.clean_transactions t, win
    WHERE t.change_seq > win.lo AND t.change_seq <= win.hi AND t.is_valid
), bounds AS (
    SELECT least(s.first_day, (SELECT min(full_date) FROM gold.dim_date), (now() AT TIME ZONE 'UTC')::date) AS lo,
           greatest(s.last_day, (now() AT TIME ZONE 'UTC')::date) + %(days_ahead)s::integer AS hi
    FROM seen s
)
INSERT INTO gold.dim_date (date_key, full_date, year, quarter, month, day, day_of_week, day_name, month_name, is_weekend)
SELECT gold.date_key(d), d,
       extract(year FROM d), extract(quarter FROM d), extract(month FROM d), extract(day FROM d),
       extract(isodow FROM d), trim(to_char(d, 'Day')), trim(to_char(d, 'Month')), extract(isodow FROM d) >= 6
FROM bounds b, generate_series(b.lo, b.hi, interval '1 day') AS g(ts), LATERAL (SELECT g.ts::date AS d) x
WHERE NOT EXISTS (SELECT 1 FROM gold.dim_date dd WHERE dd.full_date = x.d)
ON CONFLICT DO NOTHING
