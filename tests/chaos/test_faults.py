"""Kills and restarts mid-stream, and a producer faster than the jobs: nothing lost, nothing doubled, same alerts.

Each test streams `STREAMFLOW_CHAOS_EVENTS` generated events (default 100,000, as issue #8 asks) through the real
jobs on the isolated stack, injects one fault while the events are in flight, and then checks, exactly:
bronze holds every produced event once (by transaction id and by Kafka lineage), and the alerts in
bronze.raw_fraud_alerts and on fraud.alerts are the ones the offline scorer raises over the same events.
"""

from __future__ import annotations

import os
import time

import pytest
from chaos_helpers import (
    CORE_JOBS,
    EVENTS,
    BackgroundProducer,
    Slice,
    assert_no_loss_no_duplicates_parity,
    consumer_lag,
    diagnostics,
    end_offsets,
    job_groups,
    job_input,
    job_output,
    kill_broker,
    kill_cluster,
    kill_taskmanager,
    make_world,
    num_restarts,
    restart_postgres,
    settle,
    timeout_for,
    wait_until,
)

from streamflow.jobs import runner
from streamflow.local import flink, kafka

RATE = float(os.environ.get("STREAMFLOW_CHAOS_RATE", "1000"))  # events/s while a fault is injected (faster than the jobs)
KILL_AT = 0.4  # inject the fault once this share of the events is on the topic (and some already in bronze)
TIMEOUT = timeout_for(EVENTS)


def _bronze(cfg) -> int:
    return runner.bronze_counts(cfg)["raw_transactions"]


def _start(s: Slice, jobs=CORE_JOBS) -> dict[str, str]:
    "Start the jobs from an empty state and wait until they run; their Flink job ids."
    runner.start(s.cfg, jobs, fresh=True)
    runner.wait_running(s.cfg, jobs, timeout=600)
    return {j: runner.job_id(s.cfg, j) for j in jobs}  # type: ignore[misc]


def _first_checkpoints(s: Slice) -> None:
    "Wait until each core job has completed a checkpoint (what a crash makes them resume from)."
    wait_until(lambda: all(runner.status(s.cfg, [j])[0]["resume_from"] for j in CORE_JOBS), TIMEOUT,
               "a first checkpoint of each job", s.cfg)


def _produced(s: Slice) -> int:
    "Records on the transactions topic since the test began."
    topic = s.cfg.kafka.topics.transactions.name
    return sum(hi - s.start[topic].get(p, 0) for p, hi in end_offsets(s.cfg, topic).items())


def _mid_stream(s: Slice, n: int, producer: BackgroundProducer) -> dict:
    "Wait until KILL_AT of the events are produced and the jobs are writing bronze; where the stream is then."
    wait_until(lambda: _produced(s) >= n * KILL_AT and _bronze(s.cfg) > 0, TIMEOUT, "mid-stream", s.cfg)
    at = {"produced": _produced(s), "bronze": _bronze(s.cfg), "producing": producer.is_alive()}
    assert at["producing"] and at["bronze"] < n, f"the fault must hit mid-stream: {at}"
    return at


@pytest.mark.timeout(TIMEOUT * 3)
def test_kafka_broker_kill9_and_restart(chaos: Slice, tmp_path):
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, EVENTS, seed=8101)
    _start(chaos)
    producer = BackgroundProducer(cfg, world.lines, rate=RATE)
    producer.start()
    at = _mid_stream(chaos, EVENTS, producer)
    t0 = time.monotonic()
    kill_broker(cfg)
    time.sleep(5)  # down for a while: producer and jobs must ride it out
    kafka.start_broker(cfg)
    down_s = time.monotonic() - t0
    assert producer.result(TIMEOUT) == EVENTS, "every event acknowledged by the idempotent producer"
    res = assert_no_loss_no_duplicates_parity(chaos, world, TIMEOUT)
    restarts = {j: num_restarts(cfg, j) for j in CORE_JOBS}
    print(f"\nbroker killed at {at}, down {down_s:.1f}s; {res}; "
          f"job restarts {restarts}")


@pytest.mark.timeout(TIMEOUT * 3)
def test_flink_taskmanager_kill9_jobs_recover_on_a_new_one(chaos: Slice, tmp_path):
    "The TaskManager dies mid-stream; a new one registers; Flink restarts the same jobs there from their checkpoints."
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, EVENTS, seed=8102)
    ids = _start(chaos)
    _first_checkpoints(chaos)
    producer = BackgroundProducer(cfg, world.lines, rate=RATE)
    producer.start()
    at = _mid_stream(chaos, EVENTS, producer)
    victim = runner.job_taskmanagers(cfg, "fraud-detector")[0]  # the detector's, with its keyed state
    hit = [j for j in CORE_JOBS if victim in runner.job_taskmanagers(cfg, j)]
    pid = kill_taskmanager(cfg, victim)
    flink.start_cluster(cfg)  # what Kubernetes does for a TaskManager pod: a new one
    assert flink.process_pid(cfg, victim) not in (None, pid)
    assert producer.result(TIMEOUT) == EVENTS
    res = assert_no_loss_no_duplicates_parity(chaos, world, TIMEOUT)
    assert {j: runner.job_id(cfg, j) for j in CORE_JOBS} == ids, "the same jobs, restarted by Flink, not resubmitted"
    restarts = {j: num_restarts(cfg, j) for j in CORE_JOBS}
    assert all(restarts[j] and restarts[j] >= 1 for j in hit), (hit, restarts)
    print(f"\n{victim} (running {hit}) killed at {at}; {res}; job restarts {restarts}")


@pytest.mark.timeout(TIMEOUT * 3)
def test_flink_cluster_kill9_and_restart_from_checkpoint(chaos: Slice, tmp_path):
    "JobManager and TaskManager die mid-stream: the cluster forgets the jobs; `jobs start` resumes each from its checkpoint."
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, EVENTS, seed=8104)
    _start(chaos)
    _first_checkpoints(chaos)
    producer = BackgroundProducer(cfg, world.lines, rate=RATE)
    producer.start()
    at = _mid_stream(chaos, EVENTS, producer)
    kill_cluster(cfg)
    assert all(runner.job_id(cfg, j) is None for j in CORE_JOBS)
    runner.start(cfg, CORE_JOBS)  # starts the cluster; not fresh: each job resumes from its latest retained checkpoint
    runner.wait_running(cfg, CORE_JOBS, timeout=600)
    for j in CORE_JOBS:
        assert "resuming from checkpoint" in job_output(chaos, j), f"{j} did not resume from its checkpoint"
    assert producer.result(TIMEOUT) == EVENTS
    res = assert_no_loss_no_duplicates_parity(chaos, world, TIMEOUT)
    print(f"\nFlink cluster killed at {at}; {res}")


@pytest.mark.timeout(TIMEOUT * 3)
def test_postgres_restart_mid_stream(chaos: Slice, tmp_path):
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, EVENTS, seed=8103)
    ids = _start(chaos)
    producer = BackgroundProducer(cfg, world.lines, rate=RATE)
    producer.start()
    at = _mid_stream(chaos, EVENTS, producer)
    down_s = restart_postgres(cfg, down_s=5)
    assert producer.result(TIMEOUT) == EVENTS
    res = assert_no_loss_no_duplicates_parity(chaos, world, TIMEOUT)
    assert {j: runner.job_id(cfg, j) for j in CORE_JOBS} == ids, \
        "the jobs recovered by their restart strategy, without a resubmission"
    restarts = {j: num_restarts(cfg, j) for j in CORE_JOBS}
    print(f"\nPostgreSQL restarted at {at}, down {down_s:.1f}s; {res}; job restarts {restarts}")


@pytest.mark.timeout(TIMEOUT * 3)
def test_producer_faster_than_jobs_lag_drains(chaos: Slice, tmp_path):
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, EVENTS, seed=8105)
    jobs = tuple(runner.JOB_NAMES)
    _start(chaos, jobs)
    topic = cfg.kafka.topics.transactions.name
    groups = {j: g for j, g in job_groups(cfg, jobs).items() if job_input(cfg, j) == topic}  # the readers of the raw topic
    start = chaos.start[topic]
    producer = BackgroundProducer(cfg, world.lines, rate=None)  # as fast as the producer goes
    producer.start()
    assert producer.result(TIMEOUT) == EVENTS
    produce_eps = EVENTS / (producer.seconds or 1)
    lag_after_produce = {j: consumer_lag(cfg, g, topic, start) for j, g in groups.items()}
    assert all(v > 0 for v in lag_after_produce.values()), f"the producer did not outrun the jobs: {lag_after_produce}"
    t0 = time.monotonic()
    peak = dict(lag_after_produce)
    progress = {j: runner.PROGRESS_METRIC[j] for j in ("fraud-detector", "realtime-aggregator")}  # each valid event once

    def counted() -> dict[str, float | None]:
        return {j: (runner.job_metrics(cfg, j) or {}).get(m) for j, m in progress.items()}

    def drained() -> bool:
        for j, g in groups.items():
            lag = consumer_lag(cfg, g, topic, start)
            peak[j] = max(peak[j], lag)
            if lag != 0:
                return False
        return all(v == EVENTS for v in counted().values())  # the aggregator reads the scored topic: its source count

    wait_until(drained, TIMEOUT, f"consumer lag of {sorted(groups.values())} drains to 0 and {progress} reach {EVENTS}",
               cfg, jobs, interval=2.0)
    drain_s = time.monotonic() - t0
    res = assert_no_loss_no_duplicates_parity(chaos, world, TIMEOUT)
    scored = settle(counted)
    assert isinstance(scored, dict) and all(v == EVENTS for v in scored.values()), \
        f"every event counted once by {progress}: {scored}\n{diagnostics(cfg, jobs)}"
    print(f"\nproduced {EVENTS} at {produce_eps:.0f} ev/s; lag after producing {lag_after_produce}, peak {peak}; "
          f"drained in {drain_s:.0f}s; {res}")
