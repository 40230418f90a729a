"""The medallion SQL on the real PostgreSQL, run by `streamflow.batch` with the transform role (no Airflow):
consistent gold, idempotent reruns, incremental reads, late alerts, seeded defects caught, maintenance."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from batch_helpers import assert_consistent, consistency, events, fingerprint, seed_defects, write_bronze

from streamflow.batch import load_labels, quality_results, refresh, run_models
from streamflow.models import parse_record
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
    tx = out["transactions"]["rows"][0]
    invalid_by_model = sum(parse_record(ln)[0] is None for ln in path.read_text().splitlines() if ln.strip())
    assert (tx["rows_read"], tx["rows_loaded"], tx["rows_invalid"]) == (3000, 3000, invalid_by_model)
    c = consistency(warehouse)
    assert_consistent(c)
    assert c["alert_facts"] == w["alerts"]
    with connect(warehouse, "owner") as conn:
        # every fact has its dimension rows and a known (seeded) customer and store
        assert conn.execute("SELECT count(*) FROM gold.dim_customer WHERE is_inferred").fetchone()[0] == 0
        today = datetime.now(UTC).date()
        assert conn.execute("SELECT max(date) FROM gold.dim_date").fetchone()[0] >= today + timedelta(days=365)
    first = fingerprint(warehouse)

    again = refresh(transform_dsn, warehouse, NOW)
    assert again["transactions"]["rows"][0]["rows_read"] == 0
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
    assert out["transactions"]["rows"][0]["rows_read"] == 0
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
    assert out["transactions"]["rows"][0]["rows_read"] == 1000  # only the new bronze rows are read
    assert_consistent(consistency(warehouse))
    with connect(warehouse, "owner") as conn:
        inferred = conn.execute("SELECT count(*) FROM gold.dim_customer WHERE is_inferred").fetchone()[0]
        unknown = conn.execute("SELECT count(DISTINCT customer_id) FROM silver.transactions "
                               "WHERE is_valid AND 'unknown_customer' = ANY(quality_checks)").fetchone()[0]
    assert inferred == unknown == 5


def test_seeded_defect_is_caught_by_the_checks_and_kept_out_of_gold(warehouse, transform_dsn, tmp_path):
    path = events(tmp_path, 2000, cfg=warehouse)
    write_bronze(warehouse, path)
    refresh(transform_dsn, warehouse, NOW)
    facts_before = consistency(warehouse)["facts"]

    seed_defects(warehouse, n_dups=50, n_nulls=200, first_offset=10_000)
    out = refresh(transform_dsn, warehouse, NOW)["transactions"]["rows"][0]
    assert out == {"rows_read": 250, "rows_loaded": 200, "rows_invalid": 200, "duplicates_dropped": 50}
    c = consistency(warehouse)
    assert_consistent(c)
    assert c["facts"] == facts_before  # neither the copies nor the null rows reached gold
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT count(*) FROM gold.fact_transactions WHERE transaction_id LIKE 'defect-%'").fetchone()[0] == 0
        flags = dict(conn.execute("SELECT c, count(*) FROM silver.transactions, unnest(quality_checks) c "
                                  "WHERE transaction_id LIKE 'defect-%' GROUP BY c").fetchall())
    assert flags == {"missing_customer_id": 200, "missing_or_bad_amount": 200}

    run_models(transform_dsn, warehouse, "quality")
    failed = _failed(transform_dsn)
    assert {("duplicate_transaction_ids", "bronze.raw_transactions"), ("null_rate:customer_id", "silver.transactions"),
            ("null_rate:amount", "silver.transactions"), ("invalid_rate", "silver.transactions")} == failed


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
    assert refresh(transform_dsn, warehouse, NOW)["transactions"]["rows"][0]["rows_read"] == 100


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
        with cur.copy('COPY bronze.raw_transactions (id, topic, "partition", "offset", kafka_key, transaction_id, payload) '
                      "FROM STDIN") as cp:
            cp.write_row((top + 20, "transactions.raw", 3, 2, first["customer_id"], tid, json.dumps(second)))
            cp.write_row((top + 10, "transactions.raw", 3, 1, first["customer_id"], tid, json.dumps(first)))
        cur.execute("SELECT setval('bronze.raw_transactions_id_seq', %s)", [top + 20])
    out = refresh(transform_dsn, warehouse, NOW)["transactions"]["rows"][0]
    assert out == {"rows_read": 302, "rows_loaded": 301, "rows_invalid": out["rows_invalid"], "duplicates_dropped": 1}
    with connect(warehouse, "owner") as conn:
        assert conn.execute("SELECT bronze_id, amount::text FROM silver.transactions WHERE transaction_id = %s",
                            [tid]).fetchall() == [(top + 10, "11.11")]
        assert conn.execute("SELECT amount::text FROM gold.fact_transactions WHERE transaction_id = %s",
                            [tid]).fetchall() == [("11.11",)]
        # the daily aggregate (now summed from the hourly one) equals the facts, day by day
        by_day = conn.execute("""
            SELECT d.date_key, d.tx_count, d.total_amount, f.n, f.amount FROM gold.agg_daily_fraud d
            FULL JOIN (SELECT date_key, count(*) AS n, sum(amount) AS amount FROM gold.fact_transactions GROUP BY 1) f
                USING (date_key)""").fetchall()
    assert by_day and all((r[1], r[2]) == (r[3], r[4]) for r in by_day), by_day
    assert_consistent(consistency(warehouse))
    before = fingerprint(warehouse)
    assert refresh(transform_dsn, warehouse, NOW)["transactions"]["rows"][0]["rows_read"] == 0
    assert fingerprint(warehouse) == before
