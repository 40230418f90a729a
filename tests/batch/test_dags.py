"""The DAGs under real Airflow 3: every DAG imports cleanly, and each runs by `airflow dags test` against the real
PostgreSQL after bronze is filled: gold populated and consistent, a second run changes nothing, a seeded defect
fails the quality DAG and stays out of gold, and the report DAG writes HTML reports with figures."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from batch_helpers import assert_consistent, consistency, events, fingerprint, seed_defects, write_bronze

from streamflow.batch import DAG_ORDER, GOLD_MODELS, GOLD_STAGES, airflow_env, quality_results, run_dag_tests, run_dags
from streamflow.config import load_config

pytestmark = pytest.mark.airflow

IMPORT_CHECK = """
import json, time
from datetime import timedelta
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()  # dags_folder and load_examples=False come from the environment
out = {"errors": {k: str(v)[-500:] for k, v in bag.import_errors.items()}, "seconds": time.perf_counter() - t0, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": sorted(t.task_id for t in dag.tasks),
        "retries": sorted({t.retries for t in dag.tasks}),
        "retry_delay": sorted({t.retry_delay.total_seconds() for t in dag.tasks}),
        "timetable": type(dag.timetable).__name__,
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
    }
print(json.dumps(out))
"""


def test_every_dag_imports_without_errors(tmp_path):
    cfg = load_config(environ={"STREAMFLOW__AIRFLOW__HOME": str(tmp_path / "airflow")})
    env = airflow_env(cfg, dsn="postgresql://nobody@127.0.0.1:1/none")  # parsing must not touch the warehouse
    # the check is for import errors; Airflow's 30 s per-file limit is hit on a shared 2-core machine under load
    env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] = "180"
    r = subprocess.run([sys.executable, "-c", IMPORT_CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert sorted(out["dags"]) == sorted(DAG_ORDER)
    for dag_id, d in out["dags"].items():
        assert d["retries"] == [2] and d["retry_delay"] == [120.0], dag_id
    assert out["dags"]["silver_to_gold"]["timetable"] == "AssetTriggeredTimetable"
    assert out["dags"]["bronze_to_silver"]["timetable"] == "CronDataIntervalTimetable"
    assert {"fraud_report", "quality_report", "prepare", "render"} <= set(out["dags"]["fraud_report"]["tasks"])
    # silver_to_gold follows GOLD_STAGES: every model waits for every model of the stage before it, and no other
    up = out["dags"]["silver_to_gold"]["upstream"]
    assert set(up) == set(GOLD_MODELS)
    for before, stage in zip(GOLD_STAGES, GOLD_STAGES[1:], strict=False):
        for name in stage:
            assert up[name] == sorted(before), (name, up[name])
    assert up["begin_batch"] == []
    assert up["agg_daily_fraud"] == ["agg_hourly_sales", "fact_fraud_alerts"]  # it sums agg_hourly_sales


@pytest.mark.integration
@pytest.mark.timeout(1800)  # ten DAG runs in three Airflow processes: 300+ s on the shared 2-core machine under load
def test_dags_run_against_the_warehouse(warehouse, transform_dsn, tmp_path):
    cfg = warehouse.model_copy(deep=True)
    cfg.airflow.home = tmp_path / "airflow"
    cfg.paths.reports_dir = tmp_path / "reports"
    path = events(tmp_path, 3000, cfg=cfg)
    w = write_bronze(cfg, path)

    out = run_dags(cfg, labels=path.with_name(path.name + ".labels.jsonl"), dsn=transform_dsn)
    assert [(r["dag_id"], r["ok"]) for r in out["runs"]] == [(d, True) for d in DAG_ORDER], \
        [r["log_tail"] for r in out["runs"] if not r["ok"]]
    c = consistency(cfg)
    assert_consistent(c)
    assert c["facts"] == 3000 and c["alert_facts"] == w["alerts"]
    assert out["gold_counts"]["fact_transactions"] == 3000
    assert out["quality"] and all(q["passed"] for q in out["quality"])
    html = sorted(p.name for p in (tmp_path / "reports").rglob("*.html"))
    assert html == ["fraud_report.html", "quality_report.html"] and len(out["reports"]) == 2
    fraud = (tmp_path / "reports").rglob("fraud_report.html").__next__().read_text()
    assert fraud.count("data:image/png") >= 3  # the figures are embedded
    assert "Precision" in fraud  # labels were loaded, so precision is measured

    first = fingerprint(cfg)
    env = airflow_env(cfg, dsn=transform_dsn)
    again = run_dag_tests(cfg, [("bronze_to_silver", datetime.now(UTC), {"settle_seconds": 0}),
                                ("silver_to_gold", datetime.now(UTC), None)], env)
    assert [r["ok"] for r in again] == [True, True], [r["log_tail"] for r in again]
    assert fingerprint(cfg) == first  # the second run changes nothing

    seed_defects(cfg, n_dups=60, n_nulls=300, first_offset=100_000)
    later = datetime.now(UTC) + timedelta(seconds=1)
    ran = run_dag_tests(cfg, [("bronze_to_silver", later, {"settle_seconds": 0}), ("silver_to_gold", later, None),
                              ("data_quality", later, None), ("maintenance", later, None)], env)
    # the quality DAG fails on the defect; the next run in the same Airflow process is not affected
    assert [r["ok"] for r in ran] == [True, True, False, True], [r["log_tail"] for r in ran]
    assert "checks failed" in ran[2]["log_tail"]
    failed = {(q["check_name"], q["table_name"]) for q in quality_results(transform_dsn) if not q["passed"]}
    assert {("duplicate_transaction_ids", "bronze.raw_transactions"), ("null_rate:customer_id", "silver.clean_transactions"),
            ("invalid_rate", "silver.clean_transactions")} <= failed
    c2 = consistency(cfg)
    assert_consistent(c2)
    assert c2["facts"] == 3000  # the defect stayed out of gold
