"""`make demo` twice in a row on the same stack, as a newcomer runs it: both runs succeed and compare like with like.

The second run meets the first run's events in Kafka and the warehouse, its jobs' committed offsets and their
checkpoints. It must use its own transaction ids (no duplicate-id quality failure), start the jobs with empty
state and have the offline scorer replay what the detector read (parity), and show its malformed events as dead
letters with their reasons.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from streamflow.config import Settings
from streamflow.jobs import runner

pytestmark = [pytest.mark.streaming, pytest.mark.integration]
EVENTS = 3000


@pytest.mark.timeout(1800)  # two demos: streaming, then five `airflow dags test` runs each
def test_demo_runs_twice_in_a_row(own_stack: Settings, tmp_path):
    from streamflow.demo import run_demo

    cfg = own_stack.model_copy(deep=True)  # its own Kafka and PostgreSQL: the demo's records meet no other test's
    cfg.airflow.home = tmp_path / "airflow"
    cfg.paths.reports_dir = tmp_path / "reports"
    cfg.paths.outputs_dir = tmp_path / "outputs"
    try:
        runs = [run_demo(cfg, events=EVENTS, progress=False) for _ in range(2)]
        # the address the demo prints is the Flink web UI, and its REST API shows the three jobs running
        ui = runs[-1]["paths"]["flink_ui"]
        assert ui == f"http://127.0.0.1:{cfg.flink.rest_port}"
        with urllib.request.urlopen(ui + "/", timeout=10) as r:
            assert "Apache Flink Web Dashboard" in r.read().decode()
        with urllib.request.urlopen(ui + "/jobs/overview", timeout=10) as r:
            jobs = json.loads(r.read())["jobs"]
        assert sorted(j["name"] for j in jobs if j["state"] == "RUNNING") == sorted(runner.JOB_NAMES), jobs
    finally:
        runner.stop(cfg)
    for out in runs:
        s = out["streaming"]
        assert out["parity"]["identical"], out["parity"]
        assert [r["dag_id"] for r in out["batch"]["runs"] if not r["ok"]] == [], \
            [r["log_tail"] for r in out["batch"]["runs"] if not r["ok"]]
        assert all(q["passed"] for q in out["batch"]["quality"]), [q for q in out["batch"]["quality"] if not q["passed"]]
        assert s["malformed"] > 0 and s["dlq"] == s["malformed"] == out["parity"]["refused_offline"]
        assert s["dlq_reasons"] and sum(s["dlq_reasons"].values()) <= s["dlq"]
        assert s["bronze_rows"] == EVENTS - s["malformed"]  # this run's own rows, exactly
    first, second = (out["streaming"] for out in runs)
    assert first["run_id"] != second["run_id"] and first["prefix"] != second["prefix"]
    assert second["alerts"] == runs[1]["parity"]["stream_alerts"] > 0
    # the demo ends with `streamflow rules diff` of its example candidate over all of bronze (both runs, the second time)
    diffs = [out["rules"]["diff"] for out in runs]
    assert [d["events"] for d in diffs] == [first["bronze_rows"], first["bronze_rows"] + second["bronze_rows"]]
    assert diffs[1]["added"] + diffs[1]["removed"] > 0 and diffs[1]["active_version"] != diffs[1]["candidate_version"]
    html = runs[1]["rules"]["files"]["html"]
    assert html.is_file() and diffs[1]["candidate_version"] in html.read_text(encoding="utf-8")
