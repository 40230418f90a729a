"""The local Flink session cluster (issue 17), through the real CLI: `jobs start` brings up a JobManager and a
TaskManager on loopback and submits the three jobs; the web UI and its REST API show them running; `jobs savepoint`
and `jobs stop` write savepoints; events produced while the jobs are stopped are picked up by `jobs start`, which
resumes each job from its savepoint: bronze then holds every event exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streamflow.config import Settings
from streamflow.generator import write_events
from streamflow.jobs import runner
from streamflow.kafka_io import produce_events
from streamflow.local import flink
from streamflow.models import Transaction, parse_record

pytestmark = [pytest.mark.streaming, pytest.mark.integration]
N = 1500  # events per batch


def cli(*args: str) -> subprocess.CompletedProcess:
    "Run `streamflow ARGS` as a user would (the isolated stack's settings come from the environment)."
    return subprocess.run([str(Path(sys.executable).parent / "streamflow"), *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=600)


def get(cfg: Settings, path: str):
    with urllib.request.urlopen(flink.ui_url(cfg) + path, timeout=10) as r:
        body = r.read().decode()
    return json.loads(body) if path != "/" else body


def batch(tmp_path, seed: int) -> tuple[list[bytes], set[str]]:
    "`N` generated events (seeded, with this batch's id prefix) and the ids of the valid ones."
    p = tmp_path / f"events-{seed}.jsonl"
    write_events(p, N, seed=seed, progress=False, id_prefix=f"c{seed}-")
    lines = [line for line in p.read_bytes().splitlines() if line.strip()]
    ids = {tx.transaction_id for tx, _ in map(parse_record, lines) if isinstance(tx, Transaction)}
    return lines, ids


def bronze_ids(cfg: Settings) -> list[str]:
    from streamflow.warehouse import connect
    with connect(cfg) as conn:
        return [r[0] for r in conn.execute("SELECT transaction_id FROM bronze.raw_transactions")]


@pytest.mark.timeout(900)
def test_session_cluster_ui_savepoints_and_resume(own_stack: Settings, tmp_path):
    cfg = own_stack
    try:
        t0 = time.monotonic()
        r = cli("jobs", "start", "--fresh")
        assert r.returncode == 0, r.stderr
        runner.wait_running(cfg, timeout=300)
        started_s = time.monotonic() - t0
        assert f"Flink web UI: {flink.ui_url(cfg)}" in r.stdout
        # the dashboard and its REST API on 127.0.0.1: one TaskManager with its slots, the three jobs running
        assert "Apache Flink Web Dashboard" in get(cfg, "/")
        overview = get(cfg, "/overview")
        assert overview["taskmanagers"] == cfg.flink.taskmanagers
        assert overview["slots-total"] == cfg.flink.taskmanagers * cfg.flink.slots
        running = {j["name"] for j in get(cfg, "/jobs/overview")["jobs"] if j["state"] == "RUNNING"}
        assert running == set(runner.JOB_NAMES)
        ids = {j: runner.job_id(cfg, j) for j in runner.JOB_NAMES}

        first, first_ids = batch(tmp_path, 1701)
        produce_events(cfg, first, progress=False)
        runner.wait_for(lambda: set(bronze_ids(cfg)) >= first_ids, 300, "the first batch in bronze")

        r = cli("jobs", "savepoint", "fraud-detector")  # a savepoint of a running job; it keeps running
        assert r.returncode == 0 and "savepoint file:" in r.stdout, (r.stdout, r.stderr)
        where = r.stdout.split("savepoint file:", 1)[1].split()[0]
        assert (Path(where) / "_metadata").is_file()
        assert runner.job_id(cfg, "fraud-detector") == ids["fraud-detector"]

        r = cli("jobs", "stop")
        assert r.returncode == 0, r.stderr
        rows = {row["name"]: row for row in runner.status(cfg)}
        assert {row["state"] for row in rows.values()} == {"stopped"}
        assert all("/savepoints/" in (row["resume_from"] or "") for row in rows.values()), rows
        assert flink.cluster_healthy(cfg), "stopping the jobs leaves the cluster up"

        second, second_ids = batch(tmp_path, 1702)  # produced while no job runs
        produce_events(cfg, second, progress=False)
        mark = runner.submit_log(cfg).stat().st_size
        r = cli("jobs", "start")
        assert r.returncode == 0, r.stderr
        said = runner.submit_log(cfg).read_text()[mark:]
        for job in runner.JOB_NAMES:
            assert f'"logger": "streamflow.jobs.{job}", "msg": "resuming from savepoint"' in said, said[-2000:]
        assert all(runner.job_id(cfg, j) not in (None, ids[j]) for j in runner.JOB_NAMES), "new runs of the jobs"
        want = first_ids | second_ids
        runner.wait_for(lambda: set(bronze_ids(cfg)) >= want, 300, "both batches in bronze")
        time.sleep(3)
        got = bronze_ids(cfg)
        assert sorted(got) == sorted(want), "every event exactly once across the stop and the resume"

        r = cli("jobs", "start", "no-such-job")
        assert r.returncode != 0 and "unknown job 'no-such-job'" in r.stderr and "Traceback" not in r.stderr
        print(f"\njobs start (cluster included) to three jobs running: {started_s:.1f} s")
    finally:
        runner.stop(cfg)
