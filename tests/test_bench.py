"""`streamflow bench` end to end on the isolated test stack, with tiny sizes.

Timings are never asserted (a shared machine makes them noise); what is asserted is that the command runs every
section, prints the JSON line last with the issue's keys, and that the figures agree with each other and with the
sizes asked for: every event reached bronze, the stream raised the offline scorer's alerts, the warehouse holds the
rows loaded, the percentiles are ordered, and the benchmark cleaned up after itself.
"""

from __future__ import annotations

import json
import os

import pytest

from streamflow.bench_measure import BENCH_PREFIX, REQUIRED_KEYS
from streamflow.cli import main
from streamflow.config import Settings
from streamflow.jobs import runner

pytestmark = [pytest.mark.integration, pytest.mark.streaming]

EVENTS, RATE, DURATION, ROWS, INCREMENT, LONG = 1500, 200, 5, 3000, 300, 2000


@pytest.mark.timeout(1800)
def test_bench_tiny_run(stack: Settings, capsys, tmp_path):
    out_file = tmp_path / "bench.json"
    code = main(["bench", "-n", str(EVENTS), "--rate", str(RATE), "--duration", str(DURATION), "--warehouse-rows",
                 str(ROWS), "--warehouse-increment", str(INCREMENT), "--long-events", str(LONG), "--json", "-q", "--output", str(out_file)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    lines = stdout.strip().splitlines()
    res = json.loads(lines[-1])
    assert json.loads(out_file.read_text()) == res
    assert lines[0].startswith("figure") and any(line.startswith("end to end: drain") for line in lines)

    for k in REQUIRED_KEYS:
        assert isinstance(res[k], int | float) and res[k] > 0, (k, res[k])
    d = res["details"]
    long = d["long"]  # the long drain: ten steps of a tenth each, their rates, and the overall rate
    assert long["events"] == LONG and [s["to"] for s in long["steps"]] == [LONG // 10 * (i + 1) for i in range(10)]
    rates = [s["events_per_s"] for s in long["steps"] if s["seconds"] > 0]  # tiny steps may end within one poll
    assert rates and all(r > 0 for r in rates) and res["long_events_per_s"] > 0
    assert res["long_slowest_step_events_per_s"] == min(rates)
    assert d["floors"]["score"]["events"] == d["floors"]["consume"]["events"] == d["preload"]["events"] == EVENTS
    e2e = d["e2e"]
    assert e2e["bronze_rows"] == EVENTS, "every pre-loaded event reached bronze"
    assert e2e["alerts"] == e2e["expected_alerts"] == d["floors"]["score"]["alerts"] > 0, "the stream's alerts = offline"
    assert set(e2e["caught_up_s"]) == {"bronze", "fraud-detector", "realtime-aggregator", "alerts"}
    threads = e2e["cpu_by_thread"]  # per TaskManager: its busiest threads, which Flink names after the operators
    assert set(threads) == {k for k in e2e["cpu_s"] if k.startswith("taskmanager")}, threads
    for tm, t in threads.items():  # (at this tiny size the jobs may finish during start-up: no operator need lead)
        assert t and len(t) <= 9 and all(v >= 0 for v in t.values()), (tm, t)
        assert sum(t.values()) <= e2e["cpu_s"][tm] + 0.2, (tm, t, e2e["cpu_s"])  # live threads: part of the process's

    lat = d["latency"]
    assert lat["events"] == RATE * DURATION and lat["bronze"]["n"] == RATE * DURATION, "every latency event timed"
    assert lat["alert_timestamps"] == "LogAppendTime"
    for side in ("alert", "bronze"):
        s = lat[side]
        assert s["n"] > 0 and 0 < s["p50"] <= s["p95"] <= s["p99"] <= s["max"], (side, s)

    wh = d["warehouse"]
    assert (wh["silver_after_full"], wh["silver_after_incremental"]) == (ROWS, ROWS + INCREMENT)
    rules = d["rules"]
    assert rules["events"] == ROWS + INCREMENT and rules["active_version"] != rules["candidate_version"], rules
    assert res["rules_diff_events_per_s"] > 0 and rules["added"] + rules["removed"] > 0, "the candidate changes something"

    rss = res["peak_rss_mb"]
    assert {"kafka", "postgres", "flink-jobmanager", "flink-taskmanager-0"} <= set(rss)
    assert res["peak_rss_total_mb"] >= max(v for k, v in rss.items() if k not in ("total", "bench-driver"))
    pss = res["peak_pss_mb"]  # proportional: PostgreSQL's backends share its buffers, each page counts once
    assert set(pss) == set(rss) and all(0 < pss[k] <= rss[k] for k in rss), (pss, rss)
    assert pss["postgres"] < rss["postgres"] and 0 < res["peak_pss_total_mb"] <= res["peak_rss_total_mb"]
    m = res["machine"]
    assert m["cpu_count"] >= 1 and m["kafka"] == stack.kafka.version and m["services_left_running"] is True

    # cleaned up: the benchmark's jobs, topics and database are gone; the stack's own topics are still there
    from confluent_kafka.admin import AdminClient

    from streamflow.config import load_config
    from streamflow.kafka_auth import client_config
    from streamflow.local.flink import cluster_pids
    from streamflow.warehouse import connect

    bench_cfg = load_config(environ={**os.environ, "STREAMFLOW__PATHS__RUN_DIR": str(stack.path(stack.paths.run_dir) / "bench")})
    assert all(runner.job_id(bench_cfg, j) is None for j in runner.job_names(None))
    assert not any(cluster_pids(bench_cfg).values()), "the benchmark's Flink cluster is stopped"

    topics = AdminClient(client_config(stack, "operator")).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith(BENCH_PREFIX)] and stack.kafka.topics.transactions.name in topics
    with connect(stack) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            [stack.postgres.database + "_bench"]).fetchone()[0] == 0
