"""The three PyFlink jobs on the real stack (Kafka broker, PostgreSQL, MiniClusters), end to end.

The jobs run once per module (`jobs`); the data comes from fixtures, so each test can run alone or in any order:
`batch1` produces the first batch (valid events with invalid records interleaved), `batch2` the second one while
two jobs are cancelled without a savepoint (a crash) and restarted mid-stream. Each batch records the source offsets it occupies, and each
test looks only at the rows, dead letters, alerts and windows of the batches it asked for. The blacklist test uses
customers and a store of its own, with event times before the batches, so it changes nothing the others check.

What is checked: exact counts (bronze + DLQ = produced), parity of the alerts with the offline scorer, no loss and no
duplicates across the crash, the scored topic holding every valid event exactly once in its source partition, a
blacklist update applied without a restart, and the aggregator's windows (Flink SQL over the scored topic) equal to
`metric_record` over the same events done offline.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from streamflow.config import Settings
from streamflow.generator import sidecar_paths, write_events
from streamflow.jobs import runner
from streamflow.jobs.realtime_aggregator import acc_add, metric_record
from streamflow.kafka_io import produce_events, publish_blacklist, publish_blacklist_file, read_topic, topic_offsets
from streamflow.local.flink import cluster_dir
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
BL_PREFIX = "bl-update"  # the blacklist test's own customers, store and transaction ids


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


Span = dict[int, tuple[int, int]]  # partition -> [first, end) offsets of the transactions topic


@dataclass(frozen=True)
class Batch:
    "Records produced into the transactions topic, and where they landed."
    records: list[bytes]  # valid and invalid, in production order
    valid: list[bytes]  # the valid events among them
    bad: int  # invalid records among them
    span: Span
    detector: dict | None = None  # the detector's metrics once it had scored the batch (set for the first batch)


def _in_span(span: Span, partition: int, offset: int) -> bool:
    first, end = span.get(partition, (0, 0))
    return first <= offset < end


def _produce(cfg: Settings, valid: list[bytes], **kw) -> Batch:
    "Produce `valid` with invalid records interleaved; the batch with the offsets it occupies."
    records, bad = _mix(valid)
    topic = cfg.kafka.topics.transactions.name
    before = topic_offsets(cfg, topic)
    assert produce_events(cfg, records, progress=False, **kw) == len(records)
    after = topic_offsets(cfg, topic)
    return Batch(records, valid, bad, {p: (before.get(p, 0), end) for p, end in after.items()})


def _bronze_in(cfg: Settings, span: Span) -> tuple[int, int, int]:
    "Bronze rows read from `span`: (rows, distinct source positions, distinct transaction ids)."
    where = " OR ".join("(kafka_partition = %s AND kafka_offset >= %s AND kafka_offset < %s)" for _ in span)
    args = [cfg.kafka.topics.transactions.name, *(x for p, (a, b) in span.items() for x in (p, a, b))]
    with connect(cfg) as conn:
        return conn.execute(
            "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)), count(DISTINCT transaction_id) "
            f"FROM bronze.raw_transactions WHERE kafka_topic = %s AND ({where})", args).fetchone()


def _dead_letters_in(cfg: Settings, span: Span) -> list[dict]:
    "Dead-letter records whose source record lies in `span`."
    out = [json.loads(v) for _, v, *_ in read_topic(cfg, cfg.kafka.topics.dlq.name)]
    return [d for d in out if _in_span(span, d["source"]["partition"], d["source"]["offset"])]


def _ids(lines: list[bytes]) -> set[str]:
    return {json.loads(x)["transaction_id"] for x in lines}


def _only(d: dict, ids: set[str]) -> dict:
    return {k: v for k, v in d.items() if k in ids}


def _wait_scored(cfg: Settings, ids: set[str]) -> None:
    "Wait until the detector has scored and committed every event of `ids` (the scored topic is read_committed)."
    topic = cfg.kafka.topics.scored.name
    runner.wait_for(lambda: ids <= {json.loads(v)["transaction_id"] for _, v, *_ in read_topic(cfg, topic)},
                    TIMEOUT, "the events scored by the detector")


def _wait_bronze(cfg: Settings, batch: Batch) -> tuple[int, int, int]:
    "Wait until every valid event of `batch` is in bronze; the settled counts (so 'exactly N' is not just 'N so far')."
    runner.wait_for(lambda: _bronze_in(cfg, batch.span)[0] >= len(batch.valid), TIMEOUT, "the batch in bronze")
    return _settle(lambda: _bronze_in(cfg, batch.span))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    "Generated events (two batches) and their blacklist; no side effects."
    path = tmp_path_factory.mktemp("streaming") / "events.jsonl"
    write_events(path, N1 + N2, seed=7, progress=False)
    lines = [_design_edge(line) if i % EDGE_EVERY == 5 else line.rstrip(b"\n")
             for i, line in enumerate(path.read_bytes().splitlines()) if line.strip()]
    return {"path": path, "lines": lines, "blacklist": load_blacklist(sidecar_paths(path)["blacklist"]),
            "batch1": lines[:N1], "batch2": lines[N1:]}


@pytest.fixture(scope="module")
def jobs(stack: Settings, world: dict):
    "The three jobs running on an empty bronze, with the generated blacklist in their snapshot."
    publish_blacklist_file(stack, sidecar_paths(world["path"])["blacklist"])  # before the jobs start: in their snapshot
    with connect(stack) as conn:  # the session's stack is shared: earlier test modules wrote bronze rows directly
        conn.execute("TRUNCATE bronze.raw_transactions, bronze.raw_fraud_alerts")
    runner.start(stack, fresh=True)
    try:
        runner.wait_running(stack, timeout=TIMEOUT)
        yield
    finally:
        runner.stop(stack)


@pytest.fixture(scope="module")
def batch1(stack: Settings, jobs, world: dict) -> Batch:
    "The first batch, produced as fast as possible into the running jobs and written to bronze."
    t0 = time.monotonic()
    batch = _produce(stack, world["batch1"])
    runner.wait_for(lambda: _bronze_in(stack, batch.span)[0] >= N1, TIMEOUT, "batch 1 in bronze")
    print(f"\nbatch 1: {len(batch.records)} records through the processor in {time.monotonic() - t0:.1f}s")
    # the detector's counters restart with it (the crash of `batch2`): read them while they cover this batch
    runner.wait_metric(stack, "fraud-detector", "events_scored", N1, timeout=TIMEOUT)
    return replace(batch, detector=runner.job_metrics(stack, "fraud-detector"))


@pytest.fixture(scope="module")
def batch2(stack: Settings, batch1: Batch, world: dict) -> Batch:
    "The second batch, produced at 400/s while the processor and the detector are SIGKILLed and restarted."
    crashed = ["transaction-processor", "fraud-detector"]
    runner.wait_for(lambda: all(s["resume_from"] for s in runner.status(stack, crashed)), TIMEOUT,
                    "a checkpoint of each job before the crash")
    base = runner.bronze_counts(stack)["raw_transactions"]
    done: list[Batch] = []
    producer = threading.Thread(target=lambda: done.append(_produce(stack, world["batch2"], rate=400)))
    producer.start()
    runner.wait_for(lambda: runner.bronze_counts(stack)["raw_transactions"] >= base + N2 // 4, TIMEOUT, "mid-stream")
    runner.kill(stack, crashed)  # cancel both mid-stream, no savepoint: a crash (a TaskManager's kill -9: tests/chaos)
    producer.join()
    runner.start(stack, crashed)  # resumes from the last checkpoints
    assert done, "the producer delivered the second batch"
    return done[0]


def test_bronze_exact_and_dlq(stack: Settings, batch1: Batch):
    rows, positions, ids = _wait_bronze(stack, batch1)
    assert rows == positions == ids == N1, "every valid event exactly once in bronze, with its own source position"
    dlq = _dead_letters_in(stack, batch1.span)
    assert len(dlq) == batch1.bad, "every invalid event in the DLQ"
    assert rows + len(dlq) == len(batch1.records), "produced = bronze + DLQ"
    valid = set(batch1.valid)
    assert sorted(dlq_original(d) for d in dlq) == sorted(r for r in batch1.records if r not in valid), \
        "the DLQ keeps the original bytes"
    reasons = [d["reason"] for d in dlq]
    assert all(reasons) and any("json" in r for r in reasons) and any("amount" in r for r in reasons)
    # the cluster's extracted jars and working files: in the run folder, not /tmp
    names = [p.name for p in (cluster_dir(stack) / "tmp").iterdir()]
    assert any(n.startswith("flink-io-") for n in names) and any(n.startswith("flink-rpc-") for n in names), names


def test_alerts_match_offline_scorer(stack: Settings, world: dict, batch1: Batch):
    want = _expected_alerts(stack, batch1.valid, world["blacklist"])
    assert want and any("FR-005" in rules for _, rules in want.values()), "alerts, blacklisted customers among them"
    ids = _ids(batch1.valid)
    _wait_scored(stack, ids)
    _assert_same_alerts(_settle(lambda: _only(_alerts(stack), ids)), want)
    alerts_topic = {json.loads(v)["transaction_id"] for _, v, *_ in read_topic(stack, stack.kafka.topics.alerts.name)}
    assert alerts_topic & ids == set(want)
    m = batch1.detector
    assert m and m["alerts_emitted"] >= len(want) and m["events_skipped_invalid"] > 0 and m["rule_hits[FR-005]"] > 0


def test_events_the_design_allows_are_scored_and_reach_gold(stack: Settings, batch1: Batch):
    from streamflow.batch import refresh
    from streamflow.warehouse import dsn_for

    ids = sorted(json.loads(x)["transaction_id"] for x in batch1.valid if b' online"' in x)
    assert len(ids) > N1 // EDGE_EVERY - 2
    _wait_bronze(stack, batch1)
    _wait_scored(stack, set(ids))
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


def test_crash_and_restart_no_loss_no_duplicates(stack: Settings, world: dict, batch1: Batch, batch2: Batch):
    rows, positions, ids = _wait_bronze(stack, batch2)
    assert rows == positions == ids == N2, "no loss, no duplicate bronze rows after the crash"
    assert _bronze_in(stack, batch1.span) == (N1, N1, N1), "the first batch untouched"
    out = runner.submit_log(stack).read_text()
    assert "resuming from checkpoint" in out, "the restarted detector resumed from its checkpoint"
    want = _expected_alerts(stack, world["lines"], world["blacklist"])
    runner.wait_for(lambda: set(_alerts(stack)) >= set(want), TIMEOUT, "alerts after restart")
    _assert_same_alerts(_settle(lambda: _only(_alerts(stack), _ids(world["lines"]))), want)
    sources = {(d["source"]["partition"], d["source"]["offset"]) for d in _dead_letters_in(stack, batch2.span)}
    assert len(sources) == batch2.bad, "every invalid record dead-lettered (replays may repeat one)"


def test_scored_topic_exactly_once_per_source_partition(stack: Settings, world: dict, batch2: Batch):
    "After the detector's crash: every valid event once on transactions.scored, in its source partition, flag = offline."
    n_valid, batch_ids = N1 + N2, _ids(world["lines"])
    runner.wait_metric(stack, "realtime-aggregator", "source_records_in", n_valid, timeout=TIMEOUT)  # all committed
    _settle(lambda: len(read_topic(stack, stack.kafka.topics.scored.name)), 5)
    recs = read_topic(stack, stack.kafka.topics.scored.name)  # read_committed: aborted (replayed) records are not seen
    rows = [(part, json.loads(v)) for _, v, part, *_ in recs]
    ids = [r["transaction_id"] for _, r in rows]
    assert len(ids) == len(set(ids)), "each event exactly once, despite the detector's crash"
    assert len(batch_ids & set(ids)) == n_valid, "every valid event of both batches scored"
    assert all(part == r["source_partition"] for part, r in rows), "partition p holds source partition p only"
    txs = [tx for tx, _ in (parse_record(line) for line in world["lines"]) if isinstance(tx, Transaction)]
    flags = {tx.transaction_id: r.is_alert for tx, r in score_events(txs, RuleEngine(stack.fraud_rules), world["blacklist"])}
    assert {r["transaction_id"]: r["is_alert"] for _, r in rows if r["transaction_id"] in batch_ids} == flags, \
        "the windows count the alerts' own decisions"
    by_offset = [r["source_offset"] for part, r in sorted(rows, key=lambda x: x[0]) if part == 0]
    assert by_offset == sorted(by_offset), "a partition keeps its source partition's order"
    got = _settle(lambda: runner.job_metrics(stack, "realtime-aggregator")["source_records_in"], 5)
    assert got == len(read_topic(stack, stack.kafka.topics.scored.name)), \
        f"the aggregator read {got} scored records, once each"


def test_blacklist_update_without_restart(stack: Settings, world: dict, jobs):
    # a restart of the detector (the crash test's) may still be in progress: its metrics appear once it is open
    runner.wait_running(stack, ["fraud-detector"], timeout=TIMEOUT)
    jid = runner.job_id(stack, "fraud-detector")
    before = runner.job_metrics(stack, "fraud-detector")["control_messages"]
    # customers and a store of this test's own, two days before the batches: no state, window or watermark of
    # the other tests is touched (the aggregator may drop these events as late; its test allows for that)
    template = Transaction.model_validate_json(world["batch1"][0])
    cid, listed = f"{BL_PREFIX}-customer", f"{BL_PREFIX}-listed"

    def event(n: int, customer: str = cid) -> dict:
        ts = template.timestamp - timedelta(days=2) + timedelta(minutes=n)
        return {**json.loads(template.model_dump_json()), "customer_id": customer, "store_id": f"{BL_PREFIX}-store",
                "transaction_id": f"{BL_PREFIX}-{n}", "timestamp": ts.isoformat()}

    publish_blacklist(stack, [cid, listed])  # `listed` stays blacklisted: its event always alerts
    runner.wait_metric(stack, "fraud-detector", "control_messages", before + 2)
    produce_events(stack, [event(1)], progress=False)
    runner.wait_for(lambda: f"{BL_PREFIX}-1" in _alerts(stack), 120, "alert for the newly blacklisted customer")
    assert "FR-005" in _alerts(stack)[f"{BL_PREFIX}-1"][1]
    publish_blacklist(stack, [cid], active=False)  # lifted again: FR-005 no longer fires
    runner.wait_metric(stack, "fraud-detector", "control_messages", before + 3)
    # a sentinel: an event that must alert, scored after event 2; the alert sink is one keyed writer (first in,
    # first flushed), so once the sentinel's alert is in bronze, event 2's would be too
    produce_events(stack, [event(2), event(3, listed)], progress=False)
    runner.wait_for(lambda: f"{BL_PREFIX}-3" in _alerts(stack), 120, "the sentinel's alert")
    assert f"{BL_PREFIX}-2" not in _alerts(stack) or "FR-005" not in _alerts(stack)[f"{BL_PREFIX}-2"][1]
    assert runner.job_id(stack, "fraud-detector") == jid, "no restart happened"


def test_aggregator_windows_match_offline(stack: Settings, world: dict, batch2: Batch):
    txs = [tx for tx, _ in (parse_record(line) for line in world["lines"]) if isinstance(tx, Transaction)]
    flags = {tx.transaction_id: r.is_alert for tx, r in score_events(txs, RuleEngine(stack.fraud_rules), world["blacklist"])}
    offline: dict = defaultdict(lambda: (0, 0, 0))
    for tx in txs:
        for k in _window_keys(tx):
            offline[k] = acc_add(offline[k], float(tx.amount), flags[tx.transaction_id])
    topic = stack.kafka.topics.metrics.name
    runner.wait_metric(stack, "realtime-aggregator", "source_records_in", N1 + N2, timeout=TIMEOUT)
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
    assert {w for _, w, _ in latest} == set(SIZES), "all three window sizes emitted"
    for k, m in latest.items():
        store, w, start = k
        if store.startswith(BL_PREFIX):  # the blacklist test's own store
            continue
        start_ms = int(datetime.fromisoformat(start).timestamp() * 1000)
        want = metric_record(store, w, start_ms, start_ms + SIZES[w] * 1000, offline[k], m["late_firing"])
        assert m == want, (k, m, want)  # the same JSON fields and values as the Python definition
    m = runner.job_metrics(stack, "realtime-aggregator")
    assert m is not None
    # only events beyond the two batches (the blacklist test's back-dated ones) may be too late, once per window size
    assert m["late_records_dropped"] <= (m["source_records_in"] - (N1 + N2)) * len(SIZES), m
