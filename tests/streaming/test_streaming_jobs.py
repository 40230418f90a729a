"""The three PyFlink jobs on the real stack (Kafka broker, PostgreSQL, MiniClusters), end to end.

One module-scoped set of running jobs is shared by the tests, which run in file order and build on each other:
exact counts (bronze + DLQ = produced), parity of the alerts with the offline scorer, a crash of two MiniClusters
mid-stream (no loss, no duplicates, parity kept), the scored topic holding every valid event exactly once in its
source partition, a blacklist update applied without a restart, and the aggregator's windows (Flink SQL over the
scored topic) equal to `metric_record` over the same events done offline.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from streamflow.config import Settings
from streamflow.generator import sidecar_paths, write_events
from streamflow.jobs import runner
from streamflow.jobs.realtime_aggregator import acc_add, metric_record
from streamflow.kafka_io import produce_events, publish_blacklist, publish_blacklist_file, read_topic
from streamflow.messages import dlq_original
from streamflow.models import Transaction, parse_record
from streamflow.rules import RuleEngine
from streamflow.scoring import load_blacklist, score_events
from streamflow.warehouse import connect

pytestmark = [pytest.mark.streaming, pytest.mark.integration]

N1 = 2500  # first batch (valid events)
N2 = 2000  # second batch, produced while two jobs are killed and restarted
INVALID_EVERY = 97  # one invalid record after every this many valid ones
EDGE_EVERY = 40  # one event in this many is made as bare as the design's contract allows (see `_design_edge`)
TIMEOUT = 420
SIZES = {"1m": 60, "5m": 300, "1h": 3600}  # the aggregator's windows, in seconds


def _window_keys(tx: Transaction):
    "The (store, window, start) keys of the windows an event falls into."
    for w, s in SIZES.items():
        start = int(tx.timestamp.timestamp()) // s * s
        yield tx.store_id, w, datetime.fromtimestamp(start, UTC).isoformat()


def _invalid(i: int, good: bytes) -> bytes:
    "Invalid records of several kinds (the processor must dead-letter every one of them)."
    kinds = [b"not json at all", b'{"transaction_id": "only-an-id"}', b"\xff\xfe\x00 not utf-8",
             good.replace(b'"amount":"', b'"amount":"-'), good.replace(b'-03:00"', b'"')]
    return kinds[i % len(kinds)]


def _design_edge(line: bytes) -> bytes:
    "The event as the design's contract allows it: no location, payment method or product; ids with spaces and commas."
    d = {k: v for k, v in json.loads(line).items() if k not in ("latitude", "longitude", "payment_method", "product_id")}
    return json.dumps({**d, "transaction_id": f"{d['transaction_id']} online",
                       "store_id": f"Loja {d['store_id']}, Centro"}).encode()


def _mix(lines: list[bytes]) -> tuple[list[bytes], int]:
    "The events with invalid records interleaved; (records, number of invalid ones)."
    out, bad = [], 0
    for i, line in enumerate(lines, 1):
        out.append(line)
        if i % INVALID_EVERY == 0:
            out.append(_invalid(bad, line))
            bad += 1
    return out, bad


def _alerts(cfg: Settings) -> dict[str, tuple[float, list[str]]]:
    from streamflow.warehouse import connect

    with connect(cfg) as conn:
        rows = conn.execute("SELECT transaction_id, (raw_payload ->> 'fraud_score')::float8, rules_triggered "
                            "FROM bronze.raw_fraud_alerts").fetchall()  # the exact score: the column keeps three decimals
    return {r[0]: (r[1], list(r[2])) for r in rows}


def _expected_alerts(cfg: Settings, lines: list[bytes], blacklist) -> dict[str, tuple[float, list[str]]]:
    "What `streamflow score` decides over the same valid events in the same order."
    txs = [tx for tx, _ in (parse_record(line) for line in lines) if isinstance(tx, Transaction)]
    engine = RuleEngine(cfg.fraud_rules)
    return {tx.transaction_id: (r.fraud_score, r.rules_triggered)
            for tx, r in score_events(txs, engine, blacklist) if r.is_alert}


def _assert_same_alerts(got: dict, want: dict) -> None:
    assert set(got) == set(want), (f"missing {sorted(set(want) - set(got))[:5]}, "
                                   f"unexpected {sorted(set(got) - set(want))[:5]}")
    for tid, (score, rules) in want.items():
        assert abs(got[tid][0] - score) <= 1e-9, (tid, got[tid][0], score)
        assert got[tid][1] == rules, (tid, got[tid][1], rules)


def _settle(fn, seconds: float = 6.0):
    "The value of `fn` once it has stayed the same for `seconds` (so 'exactly N' is not just 'N so far')."
    last, since = fn(), time.monotonic()
    while time.monotonic() - since < seconds:
        time.sleep(1.0)
        now = fn()
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.fixture(scope="module")
def world(stack: Settings, tmp_path_factory) -> dict:
    "Generated events (two batches), the blacklist published, and the three jobs running."
    d = tmp_path_factory.mktemp("streaming")
    path = d / "events.jsonl"
    write_events(path, N1 + N2, seed=7, progress=False)
    lines = [_design_edge(line) if i % EDGE_EVERY == 5 else line.rstrip(b"\n")
             for i, line in enumerate(path.read_bytes().splitlines()) if line.strip()]
    blacklist = load_blacklist(sidecar_paths(path)["blacklist"])
    publish_blacklist_file(stack, sidecar_paths(path)["blacklist"])  # before the jobs start: in their snapshot
    with connect(stack) as conn:  # the session's stack is shared: earlier test modules wrote bronze rows directly
        conn.execute("TRUNCATE bronze.raw_transactions, bronze.raw_fraud_alerts")
    runner.start(stack, fresh=True)
    try:
        runner.wait_running(stack, timeout=TIMEOUT)
        yield {"path": path, "lines": lines, "blacklist": blacklist, "batch1": lines[:N1], "batch2": lines[N1:]}
    finally:
        runner.stop(stack)


def test_bronze_exact_and_dlq(stack: Settings, world: dict):
    records, bad = _mix(world["batch1"])
    t0 = time.monotonic()
    assert produce_events(stack, records, progress=False) == len(records)
    runner.wait_for_bronze(stack, N1, timeout=TIMEOUT)
    elapsed = time.monotonic() - t0
    bronze = _settle(lambda: runner.bronze_counts(stack)["raw_transactions"])
    dlq = read_topic(stack, stack.kafka.topics.dlq.name)
    assert bronze == N1, "every valid event exactly once in bronze"
    assert len(dlq) == bad, "every invalid event in the DLQ"
    assert bronze + len(dlq) == len(records), "produced = bronze + DLQ"
    valid = set(world["batch1"])
    assert sorted(dlq_original(v) for _, v, *_ in dlq) == sorted(r for r in records if r not in valid), \
        "the DLQ keeps the original bytes"
    reasons = [json.loads(v)["reason"] for _, v, *_ in dlq]
    assert all(reasons) and any("json" in r for r in reasons) and any("amount" in r for r in reasons)
    from streamflow.warehouse import connect

    with connect(stack) as conn:
        n_lineage, n_tx = conn.execute(
            'SELECT count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)), count(DISTINCT transaction_id) FROM bronze.raw_transactions'
        ).fetchone()
    assert n_lineage == n_tx == N1
    print(f"\nbatch 1: {len(records)} records through the processor in {elapsed:.1f}s")


def test_alerts_match_offline_scorer(stack: Settings, world: dict):
    want = _expected_alerts(stack, world["batch1"], world["blacklist"])
    assert want, "the generated batch should contain alerts"
    runner.wait_metric(stack, "fraud-detector", "events_scored", N1, timeout=TIMEOUT)
    got = _settle(lambda: _alerts(stack))
    _assert_same_alerts(got, want)
    alerts_topic = read_topic(stack, stack.kafka.topics.alerts.name)
    assert {json.loads(v)["transaction_id"] for _, v, *_ in alerts_topic} == set(want)
    m = runner.job_metrics(stack, "fraud-detector")
    assert m and m["alerts_emitted"] >= len(want) and m["events_skipped_invalid"] > 0
    assert m["rule_hits[FR-005]"] > 0, "blacklisted customers in the generated events"


def test_events_the_design_allows_are_scored_and_reach_gold(stack: Settings, world: dict):
    from streamflow.batch import refresh
    from streamflow.warehouse import dsn_for

    ids = sorted(json.loads(x)["transaction_id"] for x in world["batch1"] if b' online"' in x)
    assert len(ids) > N1 // EDGE_EVERY - 2
    scored = {json.loads(v)["transaction_id"] for _, v, *_ in read_topic(stack, stack.kafka.topics.scored.name)}
    assert set(ids) <= scored, "every bare event was scored by the detector"
    refresh(dsn_for(stack, "transform"), stack, {"settle_seconds": 0})
    with connect(stack) as conn:
        silver = conn.execute(
            "SELECT count(*) FILTER (WHERE is_valid AND latitude IS NULL AND payment_method IS NULL AND product_id IS NULL "
            "AND store_id LIKE 'Loja %%, Centro'), count(*) FROM silver.clean_transactions "
            "WHERE transaction_id = ANY(%s)", [ids]).fetchone()
        gold = conn.execute(
            "SELECT count(*) FROM gold.fact_transactions f JOIN gold.dim_store s USING (store_key) "
            "WHERE f.transaction_id = ANY(%s) AND s.store_id LIKE 'Loja %%, Centro' AND f.latitude IS NULL",
            [ids]).fetchone()[0]
    assert silver == (len(ids), len(ids)) and gold == len(ids)


def test_crash_and_restart_no_loss_no_duplicates(stack: Settings, world: dict):
    records, bad = _mix(world["batch2"])
    ckpts = {j: runner.status(stack, [j])[0]["checkpoint"] for j in ("transaction-processor", "fraud-detector")}
    assert all(ckpts.values()), "checkpoints exist before the crash"
    producer = threading.Thread(target=produce_events, args=(stack, records), kwargs={"rate": 400, "progress": False})
    producer.start()
    runner.wait_for(lambda: runner.bronze_counts(stack)["raw_transactions"] >= N1 + N2 // 4, TIMEOUT, "mid-stream")
    runner.kill(stack, ["transaction-processor", "fraud-detector"])  # SIGKILL both MiniClusters mid-stream
    producer.join()
    runner.start(stack, ["transaction-processor", "fraud-detector"])  # resumes from the last checkpoints
    runner.wait_for_bronze(stack, N1 + N2, timeout=TIMEOUT)
    bronze = _settle(lambda: runner.bronze_counts(stack)["raw_transactions"])
    assert bronze == N1 + N2, "no loss, no duplicate bronze rows after the crash"
    out = (runner.out_file(stack, "fraud-detector")).read_text()
    assert "resuming from checkpoint" in out, "the restarted detector resumed from its checkpoint"
    want = _expected_alerts(stack, world["lines"], world["blacklist"])
    runner.wait_for(lambda: set(_alerts(stack)) >= set(want), TIMEOUT, "alerts after restart")
    _assert_same_alerts(_settle(lambda: _alerts(stack)), want)
    dlq = read_topic(stack, stack.kafka.topics.dlq.name)
    sources = {(json.loads(v)["source"]["partition"], json.loads(v)["source"]["offset"]) for _, v, *_ in dlq}
    assert len(sources) == _mix(world["batch1"])[1] + bad, "every invalid record dead-lettered (replays may repeat one)"


def test_scored_topic_exactly_once_per_source_partition(stack: Settings, world: dict):
    "After the detector's crash: every valid event once on transactions.scored, in its source partition, flag = offline."
    n_valid = N1 + N2
    runner.wait_metric(stack, "realtime-aggregator", "source_records_in", n_valid, timeout=TIMEOUT)  # all committed
    _settle(lambda: len(read_topic(stack, stack.kafka.topics.scored.name)), 5)
    recs = read_topic(stack, stack.kafka.topics.scored.name)  # read_committed: aborted (replayed) records are not seen
    rows = [(part, json.loads(v)) for _, v, part, *_ in recs]
    ids = [r["transaction_id"] for _, r in rows]
    assert len(ids) == len(set(ids)) == n_valid, "each valid event exactly once, despite the detector's crash"
    assert all(part == r["source_partition"] for part, r in rows), "partition p holds source partition p only"
    txs = [tx for tx, _ in (parse_record(line) for line in world["lines"]) if isinstance(tx, Transaction)]
    flags = {tx.transaction_id: r.is_alert for tx, r in score_events(txs, RuleEngine(stack.fraud_rules), world["blacklist"])}
    assert {r["transaction_id"]: r["is_alert"] for _, r in rows} == flags, "the windows count the alerts' own decisions"
    by_offset = [r["source_offset"] for part, r in sorted(rows, key=lambda x: x[0]) if part == 0]
    assert by_offset == sorted(by_offset), "a partition keeps its source partition's order"
    got = runner.job_metrics(stack, "realtime-aggregator")["source_records_in"]
    assert got == n_valid, f"the aggregator read {got} scored records for {n_valid} events"


def test_blacklist_update_without_restart(stack: Settings, world: dict):
    # the previous test restarted the detector; its alerts may all have been written before the kill, so it
    # may still be starting up here (its operators' metrics appear once they are open)
    runner.wait_running(stack, ["fraud-detector"], timeout=TIMEOUT)
    pid = runner.job_pid(stack, "fraud-detector")
    before = runner.job_metrics(stack, "fraud-detector")["control_messages"]
    last = {}
    for line in world["lines"]:
        tx, _ = parse_record(line)
        last[tx.customer_id] = tx
    cid = next(c for c in sorted(last) if c not in world["blacklist"])
    publish_blacklist(stack, [cid])
    runner.wait_metric(stack, "fraud-detector", "control_messages", before + 1)

    def event(n: int, customer: str = cid) -> dict:
        tx = last[customer]
        ts = datetime.fromtimestamp(tx.timestamp.timestamp() + 60 * n, tx.timestamp.tzinfo)
        return {**json.loads(tx.model_dump_json()), "transaction_id": f"bl-update-{n}", "timestamp": ts.isoformat()}

    listed = next(c for c in sorted(last) if c in world["blacklist"])  # still blacklisted: its event always alerts
    extra = [event(1), event(2), event(3, listed)]
    world["bl_windows"] = {k for e in extra for k in _window_keys(Transaction.model_validate(e))}
    world["bl_events"] = len(extra)
    produce_events(stack, [event(1)], progress=False)
    runner.wait_for(lambda: "bl-update-1" in _alerts(stack), 120, "alert for the newly blacklisted customer")
    assert "FR-005" in _alerts(stack)["bl-update-1"][1]
    publish_blacklist(stack, [cid], active=False)  # lifted again: FR-005 no longer fires
    runner.wait_metric(stack, "fraud-detector", "control_messages", before + 2)
    scored = runner.job_metrics(stack, "fraud-detector")["events_scored"]
    produce_events(stack, [event(2)], progress=False)
    runner.wait_metric(stack, "fraud-detector", "events_scored", scored + 1, timeout=120)
    # a sentinel: an event that must alert, scored after event 2; the alert sink is one keyed writer (first in,
    # first flushed), so once the sentinel's alert is in bronze, event 2's would be too
    produce_events(stack, [event(3, listed)], progress=False)
    runner.wait_for(lambda: "bl-update-3" in _alerts(stack), 120, "the sentinel's alert")
    assert "bl-update-2" not in _alerts(stack) or "FR-005" not in _alerts(stack)["bl-update-2"][1]
    assert runner.job_pid(stack, "fraud-detector") == pid, "no restart happened"


def test_aggregator_windows_match_offline(stack: Settings, world: dict):
    txs = [tx for tx, _ in (parse_record(line) for line in world["lines"]) if isinstance(tx, Transaction)]
    flags = {tx.transaction_id: r.is_alert for tx, r in score_events(txs, RuleEngine(stack.fraud_rules), world["blacklist"])}
    topic = stack.kafka.topics.metrics.name
    runner.wait_for(lambda: {json.loads(v)["window"] for _, v, *_ in read_topic(stack, topic)} == set(SIZES), TIMEOUT,
                    "metric records of all three window sizes")
    n = _settle(lambda: len(read_topic(stack, topic)), 5)
    records = read_topic(stack, topic)
    assert len(records) >= n > 0
    latest: dict = {}
    for key, v, *_ in records:
        m = json.loads(v)
        k = (m["store_id"], m["window"], m["window_start"])
        assert json.loads(key) == dict(zip(("store_id", "window", "window_start"), k, strict=True)), "keyed by the window"
        latest[k] = m  # a late firing replaces the earlier result
    offline: dict = defaultdict(lambda: (0, 0, 0))
    for tx in txs:
        for k in _window_keys(tx):
            offline[k] = acc_add(offline[k], float(tx.amount), flags[tx.transaction_id])
    skip = world.get("bl_windows", set())  # windows holding the blacklist-update test's extra events
    assert {w for _, w, _ in latest} == set(SIZES), "all three window sizes emitted"
    for k, m in latest.items():
        if k in skip:
            continue
        store, w, start = k
        start_ms = int(datetime.fromisoformat(start).timestamp() * 1000)
        want = metric_record(store, w, start_ms, start_ms + SIZES[w] * 1000, offline[k], m["late_firing"])
        assert m == want, (k, m, want)  # the same JSON fields and values as the Python definition
    m = runner.job_metrics(stack, "realtime-aggregator")
    late = m.get("late_records_dropped") if m else None
    # only the blacklist test's back-dated events (two and the sentinel) may be too late, once per window size;
    # none of the batches' events
    assert late is not None and late <= world.get("bl_events", 0) * len(SIZES), late
