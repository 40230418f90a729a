"""The medallion SQL on the real PostgreSQL, run by `streamflow.batch` with the transform role (no Airflow):
consistent gold, idempotent reruns, incremental reads, late alerts, seeded defects caught, maintenance."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from batch_helpers import assert_consistent, consistency, events, fingerprint, seed_defects, write_bronze

from streamflow.batch import load_labels, quality_results, refresh, run_models
from streamflow.models import haversine_km, parse_record
from streamflow.warehouse import connect

pytestmark = pytest.mark.integration
NOW = {"settle_seconds": 0}


def _failed(dsn) -> set[tuple[str, str]]:
    return {(r["check_name"], r["table_name"]) for r in quality_results(dsn) if not r["passed"]}


def test_refresh_builds_consistent_gold_and_a_rerun_changes_nothing(warehouse, transform_dsn, tmp_path):
    path = events(tmp_path, 3000, cfg=warehouse)
    w = write_bronze(warehouse, path)
    assert w["alerts"] > 0
    out = refresh(transform_dsn, warehouse, NOW)
    tx = out["clean_transactions"]["rows"][0]
    invalid_by_model = sum(parse_record(ln)[0] is None for ln in path.read_text().splitlines() if ln.strip())
    assert (tx["rows_read"], tx["rows_loaded"], tx["rows_invalid"]) == (3000, 3000, invalid_by_model)
    c = consistency(warehouse)
    assert_consistent(c)
    assert c["alert_facts"] == w["alerts"]
    with connect(warehouse, "owner") as conn:
        # every fact has its dimension rows and a known (seeded) customer and store
        assert conn.execute("SELECT count(*) FROM gold.dim_customer WHERE is_inferred").fetchone()[0] == 0
        today = datetime.now(UTC).date()
        assert conn.execute("SELECT max(full_date) FROM gold.dim_date").fetchone()[0] >= today + timedelta(days=365)
        # one date key: gold.date_key is YYYYMMDD of the UTC date, and every dim_date row agrees with it
        assert conn.execute("SELECT gold.date_key('2026-02-28')").fetchone()[0] == 20260228
        assert conn.execute("SELECT count(*) FROM gold.dim_date WHERE date_key <> to_char(full_date, 'YYYYMMDD')::int"
                            ).fetchone()[0] == 0
        # one distance: silver's distance_from_home_km is models.haversine_km (same formula, same radius)
        pairs = conn.execute(
            "SELECT t.distance_from_home_km, c.latitude, c.longitude, (b.raw_payload->>'latitude')::float8, "
            "(b.raw_payload->>'longitude')::float8 FROM silver.clean_transactions t "
            "JOIN silver.customers c USING (customer_id) JOIN bronze.raw_transactions b "
            "ON (b.kafka_topic, b.kafka_partition, b.kafka_offset) = (t.kafka_topic, t.kafka_partition, t.kafka_offset) "
            "WHERE t.distance_from_home_km > 100").fetchall()
    assert len(pairs) > 10
    for km, *points in pairs:  # 1e-9 relative: a different Earth radius (even 6371 vs 6371.0088 km) fails this
        assert km == pytest.approx(haversine_km(*map(float, points)), rel=1e-9)
    first = fingerprint(warehouse)

    again = refresh(transform_dsn, warehouse, NOW)
    assert again["clean_transactions"]["rows"][0]["rows_read"] == 0
    assert fingerprint(warehouse) == first  # identical tables, watermarks included

    run_models(transform_dsn, warehouse, "quality")
    results = quality_results(transform_dsn)
    assert len(results) >= 25
    assert _failed(transform_dsn) == set(), [r for r in results if not r["passed"]]


def test_incremental_reads_only_new_rows_and_late_alerts_reach_gold(warehouse, transform_dsn, tmp_path):
    path = events(tmp_path, 2000, cfg=warehouse)
    w = write_bronze(warehouse, path, alerts=False)
    refresh(transform_dsn, warehouse, NOW)
    assert consistency(warehouse)["fact_frauds"] == 0

    late = write_bronze(warehouse, path, txs=False)  # the alerts arrive after their transactions were loaded
    out = refresh(transform_dsn, warehouse, NOW)
    assert out["clean_transactions"]["rows"][0]["rows_read"] == 0
    assert out["attach_alerts"]["rows"][0]["attached_late"] == late["alerts"] > 0
    c = consistency(warehouse)
    assert_consistent(c)
    assert c["fact_frauds"] == c["alert_facts"] == late["alerts"]

    more = events(tmp_path, 1000, seed=8, cfg=warehouse)
    lines = more.read_text().splitlines()
    for i in range(25):  # customers the reference data does not know (yet): inferred dimension members
        d = json.loads(lines[i])
        d["customer_id"] = f"c-late-{i % 5}"
        lines[i] = json.dumps(d)
    more.write_text("\n".join(lines) + "\n")
    write_bronze(warehouse, more, first_offset=w["events"])
    out = refresh(transform_dsn, warehouse, NOW)
    assert out["clean_transactions"]["rows"][0]["rows_read"] == 1000  # only the new bronze rows are read
    assert_consistent(consistency(warehouse))
    with connect(warehouse, "owner") as conn:
        inferred = conn.execute("SELECT count(*) FROM gold.dim_customer WHERE is_inferred").fetchone()[0]
        unknown = conn.execute("SELECT count(DISTINCT customer_id) FROM silver.clean_transactions "
                               "WHERE is_valid AND quality_checks ? 'unknown_customer'").fetchone()[0]
        silver_inferred = conn.execute("SELECT count(*), sum(total_transactions) FROM silver.customers "
                                       "WHERE is_inferred").fetchone()
    assert inferred == unknown == 5
    assert silver_inferred == (5, 25)  # silver knows them too, with their statistics, until the reference data lands


def test_seeded_defect_is_caught_by_the_checks_and_kept_out_of_gold(warehouse, transform_dsn, tmp_path):
    path = events(tmp_path, 2000, cfg=warehouse)
    write_bronze(warehouse, path)
    refresh(transform_dsn, warehouse, NOW)
    facts_before = consistency(warehouse)["facts"]

    seed_defects(warehouse, n_dups=50, n_nulls=200, first_offset=10_000)
    out = refresh(transform_dsn, warehouse, NOW)["clean_transactions"]["rows"][0]
    assert out == {"rows_read": 250, "rows_loaded": 0, "rows_invalid": 0, "rows_rejected": 200, "duplicates_dropped": 50}
    c = consistency(warehouse)
    assert_consistent(c)
    assert c["facts"] == facts_before  # neither the copies nor the null rows reached gold
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT count(*) FROM gold.fact_transactions WHERE transaction_id LIKE 'defect-%'").fetchone()[0] == 0
        flags = dict(conn.execute("SELECT c, count(*) FROM silver.rejected_transactions, unnest(reasons) c "
                                  "WHERE transaction_id LIKE 'defect-%' GROUP BY c").fetchall())
        kept = conn.execute("SELECT count(*) FROM silver.rejected_transactions WHERE raw_payload ->> 'store_id' = 's-0001' "
                            "AND kafka_partition = 2").fetchone()[0]
    assert flags == {"missing_customer_id": 200, "missing_or_bad_amount": 200}
    assert kept == 200  # the rejected rows keep their payload and lineage: nothing vanishes

    run_models(transform_dsn, warehouse, "quality")
    failed = _failed(transform_dsn)
    assert {("duplicate_transaction_ids", "bronze.raw_transactions"), ("null_rate:customer_id", "silver.clean_transactions"),
            ("null_rate:amount", "silver.clean_transactions"), ("invalid_rate", "silver.clean_transactions")} == failed


def test_maintenance_prunes_only_rows_silver_has_read(warehouse, transform_dsn, tmp_path):
    write_bronze(warehouse, events(tmp_path, 500, cfg=warehouse))
    refresh(transform_dsn, warehouse, NOW)
    write_bronze(warehouse, events(tmp_path, 100, seed=9, cfg=warehouse), first_offset=500, alerts=False)
    out = run_models(transform_dsn, warehouse, "maintenance", params={"retention_days": 0})
    assert out["prune_bronze"]["rows"][0]["transactions_pruned"] == 500
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT count(*) FROM bronze.raw_transactions").fetchone()[0] == 100  # unread rows stay
        assert conn.execute("SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
                            "WHERE relid = 'gold.fact_transactions'::regclass").fetchone()[0]
    assert refresh(transform_dsn, warehouse, NOW)["clean_transactions"]["rows"][0]["rows_read"] == 100


def test_labels_load_and_reload_without_change(warehouse, transform_dsn, tmp_path):
    path = events(tmp_path, 1000, cfg=warehouse)
    labels = path.with_name(path.name + ".labels.jsonl")
    assert load_labels(transform_dsn, labels) == 1000
    with connect(warehouse, "owner") as conn:
        first = conn.execute("SELECT count(*), count(*) FILTER (WHERE is_fraud), max(loaded_at) FROM ops.fraud_labels").fetchone()
    assert load_labels(transform_dsn, labels) == 1000
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT count(*), count(*) FILTER (WHERE is_fraud), max(loaded_at) FROM ops.fraud_labels").fetchone() == first
    assert first[0] == 1000 and first[1] > 0


def test_first_bronze_copy_wins_whatever_the_physical_order(warehouse, transform_dsn, tmp_path):
    # Two copies of one transaction in the same batch, the later bronze id stored first on disk (as after pruning
    # and space reuse): silver keeps the copy with the lower bronze id, however the rows are scanned.
    path = events(tmp_path, 300, cfg=warehouse)
    write_bronze(warehouse, path)
    line = path.read_text().splitlines()[0]
    first, second = json.loads(line), json.loads(line)
    tid = first["transaction_id"] = second["transaction_id"] = "t-copy-1"
    first["amount"], second["amount"] = "11.11", "22.22"
    with connect(warehouse, "owner") as conn, conn.cursor() as cur:
        top = cur.execute("SELECT max(id) FROM bronze.raw_transactions").fetchone()[0]
        with cur.copy("COPY bronze.raw_transactions (id, kafka_topic, kafka_partition, kafka_offset, kafka_key, "
                      "transaction_id, event_timestamp, raw_payload) FROM STDIN") as cp:
            ts = first["timestamp"]
            cp.write_row((top + 20, "transactions.raw", 3, 2, first["customer_id"], tid, ts, json.dumps(second)))
            cp.write_row((top + 10, "transactions.raw", 3, 1, first["customer_id"], tid, ts, json.dumps(first)))
        cur.execute("SELECT setval('bronze.raw_transactions_id_seq', %s)", [top + 20])
    out = refresh(transform_dsn, warehouse, NOW)["clean_transactions"]["rows"][0]
    assert out == {"rows_read": 302, "rows_loaded": 301, "rows_invalid": out["rows_invalid"], "rows_rejected": 0,
                   "duplicates_dropped": 1}
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT bronze_id, amount::text FROM silver.clean_transactions WHERE transaction_id = %s",
                            [tid]).fetchall() == [(top + 10, "11.11")]
        assert conn.execute("SELECT amount::text FROM gold.fact_transactions WHERE transaction_id = %s",
                            [tid]).fetchall() == [("11.11",)]
        # the daily aggregate (now summed from the hourly one) equals the facts, day by day
        by_day = conn.execute("""
            SELECT d.date_key, d.total_txns, d.total_amount, f.n, f.amount FROM gold.agg_daily_fraud d
            FULL JOIN (SELECT date_key, count(*) AS n, sum(amount) AS amount FROM gold.fact_transactions GROUP BY 1) f
                USING (date_key)""").fetchall()
    assert by_day and all((r[1], r[2]) == (r[3], r[4]) for r in by_day), by_day
    assert_consistent(consistency(warehouse))
    before = fingerprint(warehouse)
    assert refresh(transform_dsn, warehouse, NOW)["clean_transactions"]["rows"][0]["rows_read"] == 0
    assert fingerprint(warehouse) == before


def _bronze(cfg, evs: list[dict], alerted: dict[str, str], first_offset: int) -> None:
    "Write hand-made events (and alerts of the given type for some of them) to bronze as the jobs would."
    from batch_helpers import BRONZE_TX_COPY, TOPIC

    from streamflow.bench_fixtures import ALERT_COPY
    from streamflow.models import SCHEMA_VERSION, FraudAlert
    from streamflow.rows import bronze_alert_row

    with connect(cfg, "writer") as conn, conn.cursor() as cur:
        with cur.copy(BRONZE_TX_COPY) as cp:
            for i, d in enumerate(evs):
                cp.write_row((TOPIC, 0, first_offset + i, d["customer_id"], d["transaction_id"], d["timestamp"],
                              json.dumps(d), SCHEMA_VERSION))
        with cur.copy(ALERT_COPY) as cp:
            for i, d in enumerate(evs):
                if d["transaction_id"] in alerted:
                    kind = alerted[d["transaction_id"]]
                    a = FraudAlert(transaction_id=d["transaction_id"], customer_id=d["customer_id"], fraud_score=0.9,
                                   rules_triggered=["FR-002"], rule_scores={"FR-002": 0.9}, alert_type=kind,
                                   event_time=d["timestamp"], detected_at=datetime.now(UTC))
                    src = {"topic": TOPIC, "partition": 0, "offset": first_offset + i}
                    cp.write_row((*bronze_alert_row(a, src), SCHEMA_VERSION))


def _ev(tid: str, cid: str, day: int, amount: str, **extra) -> dict:
    t = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=day)
    return {"transaction_id": tid, "customer_id": cid, "store_id": "s-0001", "amount": amount,
            "timestamp": t.isoformat(), **extra}


def test_customer_statistics_and_risk_profile_follow_behaviour(warehouse, transform_dsn):
    evs = ([_ev(f"h-{i}", "c-000001", i, "10.00") for i in range(4)]  # three alerts within 30 days: high
           + [_ev(f"e-{i}", "c-000002", i, "30.00") for i in range(2)]  # one alert: elevated
           + [_ev("o-0", "c-000003", 0, "5.00"), _ev("o-1", "c-000003", 45, "15.00")]  # its alert is 45 days old
           + [_ev("n-0", "newcomer 7", 3, "8.50")])  # not in the reference data: an inferred customer
    alerts = {"h-0": "velocity", "h-2": "velocity", "h-3": "high_value", "e-1": "velocity", "o-0": "velocity"}
    _bronze(warehouse, evs, alerts, 0)
    refresh(transform_dsn, warehouse, NOW)
    q = ("SELECT customer_id, total_transactions, avg_transaction_amt::text, risk_profile, first_seen_at::date::text, "
         "is_inferred, name FROM silver.customers WHERE total_transactions > 0 ORDER BY customer_id")
    with connect(warehouse, "owner") as conn:
        rows = conn.execute(q).fetchall()
        dims = dict(conn.execute("SELECT customer_id, risk_profile FROM gold.dim_customer "
                                 "WHERE customer_id IN ('c-000001', 'c-000002', 'c-000003')").fetchall())
    assert [r[:6] for r in rows] == [
        ("c-000001", 4, "10.00", "high", "2026-03-01", False), ("c-000002", 2, "30.00", "elevated", "2026-03-01", False),
        ("c-000003", 2, "10.00", "normal", "2026-03-01", False), ("newcomer 7", 1, "8.50", "normal", "2026-03-04", True)]
    assert rows[0][6] != "unknown" and rows[3][6] == "unknown"  # seeded customers have their names
    assert dims == {"c-000001": "high", "c-000002": "elevated", "c-000003": "normal"}  # gold follows (SCD type 1)

    # incrementally: one more purchase moves the average and the window; a rerun counts nothing twice
    _bronze(warehouse, [_ev("e-2", "c-000002", 40, "60.00")], {}, 100)
    refresh(transform_dsn, warehouse, NOW)
    refresh(transform_dsn, warehouse, NOW)
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT total_transactions, avg_transaction_amt::text, risk_profile FROM silver.customers "
                            "WHERE customer_id = 'c-000002'").fetchone() == (3, "40.00", "normal")


def test_events_the_design_allows_reach_gold_with_the_design_columns_filled(warehouse, transform_dsn):
    # an online purchase without location, payment method or product, at a store whose id has a space and a comma
    evs = [_ev("online 1", "c-000004", 0, "99.90", store_id="Loja Centro, São Paulo"),
           _ev("t-geo-1", "c-000004", 1, "20.00", latitude=-23.5, longitude=-46.6, payment_method="boleto",
               product_id="p-00001")]
    _bronze(warehouse, evs, {"online 1": "high_value"}, 0)
    out = refresh(transform_dsn, warehouse, NOW)
    assert out["clean_transactions"]["rows"][0] == {"rows_read": 2, "rows_loaded": 2, "rows_invalid": 0,
                                                    "rows_rejected": 0, "duplicates_dropped": 0}
    with connect(warehouse, "owner") as conn:
        f = conn.execute("""
            SELECT f.transaction_id, f.latitude, f.payment_method, f.product_key IS NULL, s.store_id, s.is_inferred,
                   s.name, s.city, s.state, f.transaction_at IS NOT NULL
            FROM gold.fact_transactions f JOIN gold.dim_store s USING (store_key) ORDER BY f.transaction_id""").fetchall()
        assert f[0] == ("online 1", None, None, True, "Loja Centro, São Paulo", True, "unknown", "unknown", "--", True)
        assert f[1][:4] == ("t-geo-1", -23.5, "boleto", False)
        assert conn.execute("SELECT transaction_id, alert_type FROM gold.fact_fraud_alerts").fetchall() == [
            ("online 1", "high_value")]
        # the design's own query of the daily aggregate
        daily = conn.execute("SELECT total_alerts, total_txns, fraud_rate::text, top_rule, avg_score::text "
                             "FROM gold.agg_daily_fraud ORDER BY date_key").fetchall()
        assert daily == [(1, 1, "1.0000", "FR-002", "0.900"), (0, 1, "0.0000", None, None)]
        assert conn.execute("SELECT count(*) FROM gold.agg_hourly_sales WHERE transaction_count > 0 "
                            "AND computed_at IS NOT NULL").fetchone() == (2,)
