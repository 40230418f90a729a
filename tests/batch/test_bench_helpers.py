"""The warehouse benchmark's helpers on the real PostgreSQL: `load_bronze` writes what the streaming jobs would
(lineage, key, parsed columns, alerts from the labels or the rule engine), `time_refresh` times a full and an
incremental refresh that read exactly the new rows, and `clear_derived` returns to empty silver and gold."""

import json

import pytest
from batch_helpers import assert_consistent, consistency, events

from streamflow.batch import GOLD_MODELS, GOLD_STAGES, SILVER_MODELS, gold_counts, quality_results, run_models
from streamflow.bench_fixtures import clear_derived, load_bronze, time_refresh
from streamflow.models import SCHEMA_VERSION, Transaction, parse_record
from streamflow.rules import RuleEngine
from streamflow.scoring import load_blacklist, score_events
from streamflow.warehouse import connect

pytestmark = pytest.mark.integration


def test_load_bronze_writes_what_the_streaming_jobs_write(warehouse, tmp_path):
    assert load_bronze(warehouse, 2000, 11, offset_start=500, partition=1) == 2000
    path = events(tmp_path, 2000, seed=11, cfg=warehouse)
    labels = [json.loads(x) for x in path.with_name(path.name + ".labels.jsonl").read_text().splitlines()]
    frauds = {x["transaction_id"]: x["pattern"] for x in labels if x["is_fraud"]}
    with connect(warehouse, "owner") as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT kafka_offset), min(kafka_offset), max(kafka_offset), "
            "count(DISTINCT transaction_id), bool_and(kafka_topic = %s AND kafka_partition = 1), "
            "bool_and(kafka_key = raw_payload ->> 'customer_id'), bool_and(transaction_id = raw_payload ->> 'transaction_id'), "
            "bool_and(event_timestamp = (raw_payload ->> 'timestamp')::timestamptz), bool_and(schema_version = %s) "
            "FROM bronze.raw_transactions", [warehouse.kafka.topics.transactions.name, SCHEMA_VERSION]).fetchone()
        assert row == (2000, 2000, 500, 2499, 2000, True, True, True, True, True)
        payloads = [r[0] for r in conn.execute("SELECT raw_payload FROM bronze.raw_transactions ORDER BY id").fetchall()]
        assert payloads == [json.loads(x) for x in path.read_text().splitlines()]  # the generator's events, verbatim
        alerts = conn.execute(
            "SELECT a.transaction_id, a.rules_triggered, a.fraud_score, "
            "(a.raw_payload -> 'source' ->> 'offset')::bigint = b.kafka_offset, a.transaction_at = b.event_timestamp "
            "FROM bronze.raw_fraud_alerts a JOIN bronze.raw_transactions b USING (transaction_id)").fetchall()
    assert len(alerts) == len(frauds) > 0
    assert all(rules == [frauds[tid]] and score == 1.0 and same_offset and same_time
               for tid, rules, score, same_offset, same_time in alerts)


def test_load_bronze_scorer_alerts_are_the_rule_engines(warehouse, tmp_path):
    load_bronze(warehouse, 1500, 12, alerts="scorer")
    path = events(tmp_path, 1500, seed=12, cfg=warehouse)
    txs = [tx for tx, _ in map(parse_record, path.read_text().splitlines()) if isinstance(tx, Transaction)]
    bl = load_blacklist(path.with_name(path.name + ".blacklist.json"))
    expected = {tx.transaction_id: r.fraud_score for tx, r in score_events(txs, RuleEngine(warehouse.fraud_rules), bl)
                if r.is_alert}
    with connect(warehouse, "owner") as conn:
        got = dict(conn.execute("SELECT transaction_id, (raw_payload ->> 'fraud_score')::float8 "
                                "FROM bronze.raw_fraud_alerts").fetchall())
    assert got == pytest.approx(expected) and len(got) > 0
    with pytest.raises(ValueError, match="alerts must be"):
        load_bronze(warehouse, 10, 13, alerts="magic")


def test_time_refresh_full_then_incremental(warehouse, transform_dsn):
    load_bronze(warehouse, 3000, 21)
    full = time_refresh(warehouse)
    assert set(full["models"]) == set(SILVER_MODELS) | set(GOLD_MODELS)
    assert (full["rows_read"], full["rows_loaded"]) == (3000, 3000)
    assert full["total_s"] == pytest.approx(full["silver_s"] + full["gold_s"], abs=0.01)
    # gold's stages run one after another, the models of a stage at the same time
    assert full["total_s"] >= sum(full["models"][n] for n in SILVER_MODELS) + sum(
        max(full["models"][n] for n in stage) for stage in GOLD_STAGES) - 0.05
    assert full["server_cpu_s"] is not None and full["server_cpu_s"] > 0
    assert_consistent(consistency(warehouse))
    counts = gold_counts(transform_dsn)

    clear_derived(warehouse)  # the same bronze, refreshed again from empty silver and gold: the same gold
    assert sum(gold_counts(transform_dsn).values()) == 0
    assert time_refresh(warehouse, parallel=True)["rows_read"] == 3000  # gold stages' models at the same time
    assert gold_counts(transform_dsn) == counts

    load_bronze(warehouse, 500, 22, offset_start=3000)
    inc = time_refresh(warehouse)
    assert (inc["rows_read"], inc["rows_loaded"]) == (500, 500)  # only the new rows
    assert_consistent(consistency(warehouse))
    assert time_refresh(warehouse)["rows_read"] == 0
    run_models(transform_dsn, warehouse, "quality")
    assert [r for r in quality_results(transform_dsn) if not r["passed"]] == []
