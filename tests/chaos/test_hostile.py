"""Hostile input mixed into valid traffic: every record ends up in bronze or in the DLQ with a reason, no job restarts.

The corpus (`hostile_corpus.py`, seeded) labels each record with where it must go; the test checks the route of
every record by its Kafka lineage, not just the totals. ~1 MB records are a separate test: they probe size limits.
Platform decision on size: a producer using `producer_config` (librdkafka `message.max.bytes` 1,000,000) refuses a
larger record itself with MSG_SIZE_TOO_LARGE, before it reaches Kafka; everything up to that limit is accepted by the
topics (broker default `max.message.bytes` 1,048,588) and must be handled like any other record, including the
dead-letter path.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from chaos_helpers import (
    EVENTS,
    Slice,
    diagnostics,
    end_offsets,
    make_world,
    num_restarts,
    read_since,
    settle,
    timeout_for,
    wait_until,
)
from hostile_corpus import (
    DLQ,
    PRODUCER_MAX_BYTES,
    Hostile,
    hostile_corpus,
    large_records,
    mix,
    oversized_record,
)

from streamflow.flink_runtime import JOB_NAMES
from streamflow.jobs import runner
from streamflow.kafka_io import produce_events, producer_config
from streamflow.messages import dlq_original
from streamflow.models import Transaction, parse_record
from streamflow.warehouse import connect

VALID = min(EVENTS, 10_000)  # valid events around the corpus
HOSTILE = 1_200
TIMEOUT = timeout_for(VALID + HOSTILE)


def _start(s: Slice) -> dict[str, str]:
    "Start the three jobs fresh; their Flink job ids."
    runner.start(s.cfg, JOB_NAMES, fresh=True)
    runner.wait_running(s.cfg, JOB_NAMES, timeout=600)
    return {j: runner.job_id(s.cfg, j) for j in JOB_NAMES}  # type: ignore[misc]


def _bronze_rows(s: Slice) -> list[tuple[int, int, str | None, str]]:
    with connect(s.cfg) as conn:
        return conn.execute("SELECT kafka_partition, kafka_offset, transaction_id, raw_payload::text "
                            "FROM bronze.raw_transactions").fetchall()


def _routes(s: Slice, records: list[bytes]) -> dict[str, list]:
    "Where each produced record went, found by lineage: the produced bytes by route."
    topic = s.cfg.kafka.topics.transactions.name
    produced = {(p, o): v for _, v, p, o, _ in read_since(s, topic)}
    assert sorted(v or b"" for v in produced.values()) == sorted(records), "the topic holds exactly what was produced"
    bronze = {(p, o): (tid, payload) for p, o, tid, payload in _bronze_rows(s)}
    dlq = [json.loads(v) for _, v, *_ in read_since(s, s.cfg.kafka.topics.dlq.name)]
    dlq_by_src = {(d["source"]["partition"], d["source"]["offset"]): d for d in dlq}
    return {"produced": produced, "bronze": bronze, "dlq": dlq, "dlq_by_src": dlq_by_src}  # type: ignore[dict-item]


def _assert_routed(s: Slice, records: list[bytes], hostile: list[Hostile], ids: dict[str, str]) -> dict:
    "produced = bronze + DLQ record by record, each hostile record where its label says, reasons, no restarts."
    cfg = s.cfg
    to_dlq = {h.raw for h in hostile if h.route == DLQ}
    expected_bronze = sum(1 for r in records if r not in to_dlq and parse_record(r, Transaction)[0] is not None)

    def total() -> int:
        return len(_bronze_rows(s)) + len(read_since(s, cfg.kafka.topics.dlq.name))

    wait_until(lambda: total() >= len(records), TIMEOUT, f"bronze + DLQ >= {len(records)}", cfg, JOB_NAMES)
    settle(total)
    r = _routes(s, records)
    produced, bronze, dlq_by_src = r["produced"], r["bronze"], r["dlq_by_src"]
    restarts = {j: num_restarts(cfg, j) for j in JOB_NAMES}
    assert {j: runner.job_id(cfg, j) for j in JOB_NAMES} == ids, f"a job ended\n{diagnostics(cfg, JOB_NAMES)}"
    assert all(v == 0 for v in restarts.values()), f"job restarts {restarts}\n{diagnostics(cfg, JOB_NAMES)}"
    assert len(r["dlq"]) == len(dlq_by_src), "one dead letter per rejected record (no job restart replays)"
    assert not set(bronze) & set(dlq_by_src), "no record both in bronze and in the DLQ"
    missing = set(produced) - set(bronze) - set(dlq_by_src)
    assert not missing, f"{len(missing)} records neither in bronze nor in the DLQ, e.g. {[produced[k][:120] for k in sorted(missing)[:3]]}"
    assert len(bronze) + len(dlq_by_src) == len(produced), "produced = bronze + DLQ"
    for key, d in dlq_by_src.items():
        assert isinstance(d.get("reason"), str) and d["reason"].strip(), f"dead letter without a reason: {d}"
        assert dlq_original(d) == (produced[key] or b""), "the DLQ keeps the original bytes"
    for key, (tid, payload) in bronze.items():
        tx, why = parse_record(produced[key], Transaction)
        assert tx is not None, f"invalid record in bronze ({why}): {produced[key][:200]!r}"
        assert tid == tx.transaction_id and json.loads(payload) == json.loads(produced[key])
    route_of = {v: ("bronze" if k in bronze else "dlq") for k, v in produced.items()}
    wrong = Counter((h.kind, h.route, route_of.get(h.raw)) for h in hostile if route_of.get(h.raw) != h.route)
    assert not wrong, f"hostile records routed differently than labelled (kind, want, got): {dict(wrong)}"
    assert len(bronze) == expected_bronze
    return {"produced": len(produced), "bronze": len(bronze), "dlq": len(dlq_by_src), "restarts": restarts}


def _key(raw: bytes) -> bytes | None:
    "The customer_id key a careful producer would attach (None when the record has none)."
    try:
        d = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    cid = d.get("customer_id") if isinstance(d, dict) else None
    return str(cid).encode() if cid not in (None, "") else None


def _produce_plain(cfg, records: list[bytes]) -> int:
    "Produce with a plain confluent-kafka producer on the platform's settings (another team's producer)."
    from confluent_kafka import Producer

    errors: list = []
    p = Producer(producer_config(cfg, on_delivery=lambda err, msg: errors.append(err) if err else None))
    for raw in records:
        while True:
            try:
                p.produce(cfg.kafka.topics.transactions.name, value=raw, key=_key(raw))
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(60) == 0 and not errors, errors[:3]
    return len(records)


@pytest.mark.timeout(TIMEOUT * 3)
@pytest.mark.parametrize("producer", ["produce_events", "plain_producer"])
def test_hostile_corpus_mixed_into_valid_traffic(chaos: Slice, tmp_path, producer: str):
    "`produce_events` is the platform's producer; a plain producer stands for any other writer of transactions.raw."
    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, VALID, seed=8104)
    hostile = hostile_corpus(world.lines, HOSTILE, seed=8104)
    records = mix(world.lines, hostile, seed=8104)
    t0 = time.monotonic()
    produce = produce_events if producer == "produce_events" else _produce_plain
    kw = {"progress": False} if producer == "produce_events" else {}
    assert produce(cfg, records, **kw) == len(records)
    pids = _start(chaos)  # the jobs start at the slice's offsets: they read everything produced above
    res = _assert_routed(chaos, records, hostile, pids)
    reasons = Counter(d["reason"].split(":")[0] for _, v, *_ in read_since(chaos, cfg.kafka.topics.dlq.name)
                      for d in [json.loads(v)])
    print(f"\n{len(hostile)} hostile ({Counter(h.route for h in hostile)}) in {VALID} valid: {res} "
          f"in {time.monotonic() - t0:.0f}s; top reasons {reasons.most_common(8)}")


@pytest.mark.timeout(TIMEOUT * 3)
def test_one_megabyte_records(chaos: Slice, tmp_path):
    from confluent_kafka import KafkaError, KafkaException, Producer

    cfg = chaos.cfg
    world = make_world(cfg, tmp_path, 2_000, seed=8106)
    large = large_records(world.lines, seed=8106)
    assert all(len(h.raw) < PRODUCER_MAX_BYTES for h in large) and all(len(h.raw) > 900_000 for h in large)
    records = mix(world.lines, large, seed=8106)
    assert produce_events(cfg, records, progress=False) == len(records), "the broker accepts records up to the limit"

    topic = cfg.kafka.topics.transactions.name
    before = end_offsets(cfg, topic)
    p = Producer(producer_config(cfg))
    with pytest.raises(KafkaException) as e:
        p.produce(topic, value=oversized_record(world.lines))
    assert e.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, e.value
    assert p.flush(10) == 0 and end_offsets(cfg, topic) == before, "the oversized record never reached Kafka"

    pids = _start(chaos)
    res = _assert_routed(chaos, records, large, pids)
    print(f"\n~1 MB records: {res}")
