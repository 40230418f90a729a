"""The rule lifecycle on the real stack (Kafka broker, PostgreSQL, the processor's and the detector's MiniClusters):
publish a rule set in the middle of a stream, kill -9 the detector right after a second publish, roll back; diff bronze.

The module's events have customers and transaction ids of their own (prefix `rl-`), so nothing another module left
in the shared stack (events, per-customer state, consumer offsets) can reach its numbers. It starts from the
configuration's rules and leaves them so: its last step writes the tombstone that resets the control topic.

What is checked, each time against `rulesets.replay` (the offline twin of the detector) fed with the switch points
the publish recorded:
- every event scored exactly once on `transactions.scored`, each with the version the switch point says, with the
  same decision and score as offline; the switch point is what `ops.rule_switches` recorded;
- every alert in `bronze.raw_fraud_alerts` and `fraud.alerts` equal to offline, rule version included, and gold keeps
  the version through the warehouse refresh;
- the same after a kill -9 of the detector right after a publish: the restarted detector keeps the published version;
- a malformed rules message is counted and dead-lettered, and the detector goes on;
- `rules diff` over bronze equals the offline scorer's difference between the two rule sets.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from streamflow import rule_ops
from streamflow.config import Settings
from streamflow.generator import write_events
from streamflow.jobs import runner
from streamflow.kafka_io import produce_events, publish_control, read_topic, topic_offsets
from streamflow.messages import RULES_KEY, parse_control, rules_version, shadow_message
from streamflow.models import Transaction, parse_record
from streamflow.rules import RuleEngine
from streamflow.rulesets import RuleTimeline, load_rules_file, replay_with_shadow
from streamflow.scoring import score_events
from streamflow.warehouse import connect

pytestmark = [pytest.mark.streaming, pytest.mark.integration]

PREFIX = "rl-"  # this module's customers and transaction ids
N = (4000, 4000, 4000, 4000)  # the batches: publish mid-stream, kill -9 after a publish, rollback, shadow
RATE = 500  # events/s: 8 s per batch, so the stream still flows past the switch point (1 s of rate sampling + 2 s of lead)
CALL_AFTER_S = 1.5  # when, into a batch, the publish or rollback is called
TIMEOUT = 420
JOB = "fraud-detector"
JOBS = ["transaction-processor", JOB]  # the processor fills bronze.raw_transactions: gold and `rules diff` need it


def _own(line: bytes) -> bytes:
    d = json.loads(line)
    return json.dumps({**d, "transaction_id": PREFIX + d["transaction_id"], "customer_id": PREFIX + d["customer_id"]}).encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("rules") / "events.jsonl"
    write_events(path, sum(N), seed=23, progress=False)
    lines = [_own(x) for x in path.read_bytes().splitlines() if x.strip()]
    cuts = [sum(N[:i]) for i in range(len(N) + 1)]
    return {"batches": [lines[cuts[i]:cuts[i + 1]] for i in range(len(N))]}


@pytest.fixture(scope="module")
def candidates(stack: Settings, tmp_path_factory) -> list:
    "The demo's example candidate, and a second one (a stricter threshold) for the kill -9 step."
    first = load_rules_file(stack.path(stack.demo.candidate_rules))
    return [first, first.model_copy(update={"threshold": 0.6})]


@pytest.fixture(scope="module")
def detector(stack: Settings):
    "The processor and the detector, on the configuration's rules, from the current end of the topics; reset afterwards."
    publish_control(stack, [(RULES_KEY, None)])  # whatever another module published: back to the configuration
    with connect(stack) as conn:
        conn.execute("TRUNCATE ops.rule_switches, ops.rule_versions")
    start = {t: topic_offsets(stack, t) for t in (stack.kafka.topics.transactions.name, stack.kafka.topics.scored.name,
                                                  stack.kafka.topics.dlq.name)}
    runner.start(stack, JOBS, fresh=True)
    try:
        runner.wait_running(stack, JOBS, timeout=TIMEOUT)
        yield start
    finally:
        runner.stop(stack, JOBS)
        publish_control(stack, [(RULES_KEY, None)])


def _produce_while(stack: Settings, lines: list[bytes], during) -> object:
    "Produce `lines` at RATE; CALL_AFTER_S into it, call `during()` (while the stream flows); its result."
    out: list = []
    t = threading.Thread(target=lambda: produce_events(stack, lines, progress=False, rate=RATE))
    t.start()
    time.sleep(CALL_AFTER_S)
    out.append(during())
    t.join()
    return out[0]


def _scored(stack: Settings, start: dict[int, int], ids: set[str]) -> dict[str, dict]:
    "The committed scored records of `ids` (each must appear once), waiting until all are there."
    def read() -> list[dict]:
        return [json.loads(v) for _, v, *_ in read_topic(stack, stack.kafka.topics.scored.name, start=start)]
    runner.wait_for(lambda: ids <= {r["transaction_id"] for r in read()}, TIMEOUT, "every event on transactions.scored")
    rows = [r for r in read() if r["transaction_id"] in ids]
    assert len(rows) == len(ids), "each event scored exactly once"
    return {r["transaction_id"]: r for r in rows}


def _source(stack: Settings, start: dict[int, int]) -> list[tuple[int, int, Transaction]]:
    "This module's events on transactions.raw as the detector reads them: (partition, offset, event), per partition in order."
    out = []
    for _, v, part, off, _ in read_topic(stack, stack.kafka.topics.transactions.name, start=start):
        tx, _ = parse_record(v, Transaction)
        if isinstance(tx, Transaction) and tx.transaction_id.startswith(PREFIX):
            out.append((part, off, tx))
    return sorted(out, key=lambda e: (e[0], e[1]))


def _bronze_alerts(stack: Settings) -> dict[str, tuple]:
    with connect(stack) as conn:
        rows = conn.execute("SELECT transaction_id, (raw_payload ->> 'fraud_score')::float8, rules_triggered, rule_version "
                            "FROM bronze.raw_fraud_alerts WHERE transaction_id LIKE %s", [PREFIX + "%"]).fetchall()
    return {r[0]: (r[1], list(r[2]), r[3]) for r in rows}


Segment = tuple  # (rules, {partition: first offset}): the rule set in force from those offsets on


def _offline(events: list, segments: list[Segment], shadow: Segment | None = None) -> dict[str, tuple]:
    "Transaction id -> (version, result, shadow version, shadow result) offline: each segment's rules from its offsets on, one state per customer; the shadow in the last segment."
    states: dict = {}
    out = {}
    for k, (rules, start) in enumerate(segments):
        end = segments[k + 1][1] if k + 1 < len(segments) else {}
        part = [e for e in events if start.get(e[0], 0) <= e[1] < end.get(e[0], float("inf"))]
        tl = RuleTimeline(rules)
        if shadow is not None and k == len(segments) - 1:
            tl.apply(parse_control(*shadow_message(shadow[0], shadow[1])))
        out |= {tx.transaction_id: (v, r, sv, sr) for _, _, tx, v, r, sv, sr in replay_with_shadow(part, tl, states=states)}
    return out


def _check(stack: Settings, start: dict, segments: list[Segment], ids: set[str]) -> dict:
    "Scored topic and bronze alerts against the offline replay of the segments; the offline decisions."
    t = stack.kafka.topics
    want = {tid: (v, r) for tid, (v, r, *_) in _offline(_source(stack, start[t.transactions.name]), segments).items()}
    assert set(want) == ids
    got = _scored(stack, start[t.scored.name], set(want))
    for tid, (version, r) in want.items():
        g = got[tid]
        assert (g["rule_version"], g["is_alert"]) == (version, r.is_alert), (tid, g, version, r.is_alert)
        assert abs(g["fraud_score"] - r.fraud_score) <= 1e-9, (tid, g["fraud_score"], r.fraud_score)
    alerts = {tid: (r.fraud_score, r.rules_triggered, v) for tid, (v, r) in want.items() if r.is_alert}
    runner.wait_for(lambda: set(_bronze_alerts(stack)) >= set(alerts), TIMEOUT, "the alerts in bronze")
    bronze = _bronze_alerts(stack)
    assert set(bronze) == set(alerts), (sorted(set(bronze) - set(alerts))[:5], sorted(set(alerts) - set(bronze))[:5])
    for tid, (score, rules, version) in alerts.items():
        assert abs(bronze[tid][0] - score) <= 1e-9 and (bronze[tid][1], bronze[tid][2]) == (rules, version), (tid, bronze[tid])
    return want


def _ids(batches: list[list[bytes]]) -> set[str]:
    return {json.loads(x)["transaction_id"] for b in batches for x in b}


def _recorded(stack: Settings, switch_id: int) -> dict[int, int]:
    with connect(stack) as conn:
        row = conn.execute("SELECT switch_offsets FROM ops.rule_switches WHERE switch_id = %s", [switch_id]).fetchone()
    return {int(p): o for p, o in row[0].items()}


@pytest.fixture(scope="module")
def published(stack: Settings, detector: dict, world: dict, candidates: list) -> dict:
    "Batch 1 streams; a third of the way in, the first candidate is published (and waited for)."
    r = _produce_while(stack, world["batches"][0],
                       lambda: rule_ops.publish(stack, candidates[0], "test", "mid-stream", "candidate 1", wait=120))
    assert r["changed"] and not r["pending_partitions"], r
    return r


def test_publish_mid_stream_switches_exactly_at_the_recorded_point(stack: Settings, detector: dict, world: dict,
                                                                  candidates: list, published: dict):
    r = published
    assert r["previous_version"] == rules_version(stack.fraud_rules) and r["version"] == rules_version(candidates[0])
    assert _recorded(stack, r["switch_id"]) == r["switch_offsets"], "the switch point on record is the one observed"
    assert r["switch_offsets"] == r["planned_offsets"], "the detector switched where the message said, not later"
    want = _check(stack, detector, [(stack.fraud_rules, {}), (candidates[0], r["switch_offsets"])], _ids(world["batches"][:1]))
    versions = {v for v, _ in want.values()}
    assert versions == {r["previous_version"], r["version"]}, "events on both sides of the switch"
    assert all(any(res.is_alert for v2, res in want.values() if v2 == v) for v in versions), "alerts from both versions"
    alerts = {json.loads(v)["transaction_id"]: json.loads(v).get("rule_version")
              for _, v, *_ in read_topic(stack, stack.kafka.topics.alerts.name)}
    assert {t: alerts[t] for t, (v, res) in want.items() if res.is_alert} == \
        {t: v for t, (v, res) in want.items() if res.is_alert}, "fraud.alerts carries the version of each alert"
    shown = rule_ops.show(stack)
    assert shown["active"]["version"] == r["version"] and shown["history"][0]["switch_offsets"] == \
        {str(p): o for p, o in r["switch_offsets"].items()}


def test_kill9_right_after_a_publish_keeps_the_published_version(stack: Settings, detector: dict, world: dict,
                                                                candidates: list, published: dict):
    runner.wait_for(lambda: all(s["resume_from"] for s in runner.status(stack, [JOB])), TIMEOUT, "a checkpoint")
    jid = runner.job_id(stack, JOB)

    def publish_then_kill() -> dict:
        r = rule_ops.publish(stack, candidates[1], "test", "then crash", "candidate 2", wait=0)
        runner.kill(stack, [JOB])  # cancel, no savepoint, right after the rules message is on the topic: a crash
        return r

    r = _produce_while(stack, world["batches"][1], publish_then_kill)
    runner.start(stack, [JOB])  # resumes from the last checkpoint, before the publish
    runner.wait_running(stack, [JOB], timeout=TIMEOUT)
    assert runner.job_id(stack, JOB) != jid
    t = stack.kafka.topics
    scored_from = {p: 0 for p in range(t.scored.partitions)} | detector[t.scored.name]
    switch = rule_ops.observe_switch(stack, r["version"], scored_from, sorted(r["planned_offsets"]), 120)
    assert switch == r["planned_offsets"], "the restarted detector scores with the published version, from its point"
    rule_ops.record_switch_offsets(stack, r["switch_id"], switch)
    segments = [(stack.fraud_rules, {}), (candidates[0], published["switch_offsets"]), (candidates[1], switch)]
    want = _check(stack, detector, segments, _ids(world["batches"][:2]))
    world["segments"] = segments
    assert {v for v, _ in want.values()} == {rules_version(stack.fraud_rules), published["version"], r["version"]}
    assert "resuming from checkpoint" in runner.submit_log(stack).read_text()


def test_rollback_and_bad_control_messages(stack: Settings, detector: dict, world: dict, candidates: list,
                                           published: dict):
    runner.wait_running(stack, [JOB], timeout=TIMEOUT)
    before = runner.job_metrics(stack, JOB) or {}
    bad = [(RULES_KEY, json.dumps({"type": "rules", "rules": {"threshold": 3}})), ("blacklist:x", "{not json")]
    publish_control(stack, bad)
    runner.wait_metric(stack, JOB, "control_messages_rejected", before.get("control_messages_rejected", 0) + 2)
    r = _produce_while(stack, world["batches"][2], lambda: rule_ops.rollback(stack, "test", "roll back", wait=120))
    assert (r["action"], r["version"]) == ("rollback", rules_version(candidates[0])) and not r["pending_partitions"], r
    assert r["switch_offsets"] == r["planned_offsets"]
    dlq = [json.loads(v) for _, v, *_ in read_topic(stack, stack.kafka.topics.dlq.name, start=detector[stack.kafka.topics.dlq.name])]
    reasons = [d["reason"] for d in dlq if d["source"]["topic"] == stack.kafka.topics.control.name]
    assert any(x.startswith("rules message: rules.threshold") for x in reasons) and any("malformed json" in x for x in reasons)
    assert rule_ops.show(stack)["active"]["version"] == r["version"]
    segments = [*world["segments"], (candidates[0], r["switch_offsets"])]
    _check(stack, detector, segments, _ids(world["batches"][:3]))
    back = rule_ops.rollback(stack, "test", "to the configuration", wait=0)  # one step further: what came first
    assert back["version"] == rules_version(stack.fraud_rules)
    world["segments"] = [*segments, (stack.fraud_rules, back["planned_offsets"])]  # an idle stream: its next events
    with pytest.raises(rule_ops.RuleOpsError, match="nothing to roll back to"):
        rule_ops.rollback(stack, "test", "and further", wait=0)


def test_shadow_scores_beside_the_active_rules(stack: Settings, detector: dict, world: dict, candidates: list):
    t = stack.kafka.topics
    shadow_from = topic_offsets(stack, t.shadow.name)
    sh = _produce_while(stack, world["batches"][3],
                        lambda: rule_ops.shadow(stack, candidates[1], "test", "a batch beside", "candidate 2 shadowed", wait=120))
    assert sh["changed"] and sh["switch_offsets"] == sh["planned_offsets"], sh
    ids = _ids(world["batches"])
    want = _offline(_source(stack, detector[t.transactions.name]), world["segments"], (candidates[1], sh["switch_offsets"]))
    shadowed = {tid: w for tid, w in want.items() if w[2] is not None}
    assert len(shadowed) >= 500 and shadowed.keys() <= _ids(world["batches"][3:])  # the batch's tail, past the switch point
    # the active decisions are untouched: scored topic and bronze alerts as before, no alert from the candidate
    _check(stack, detector, world["segments"], ids)
    got: dict = {}
    runner.wait_for(lambda: got.update({r["transaction_id"]: r for r in (json.loads(v) for _, v, *_ in
                                        read_topic(stack, t.shadow.name, start=shadow_from))}) or set(got) >= set(shadowed),
                    TIMEOUT, "every shadow decision on fraud.shadow")
    assert set(got) == set(shadowed), "shadow decisions exactly from the shadow's switch point"
    for tid, (v, r, sv, s) in shadowed.items():
        g = got[tid]
        assert (g["active_version"], g["active_is_alert"], g["shadow_version"], g["shadow_is_alert"], g["shadow_rules_triggered"]) \
            == (v, r.is_alert, sv, s.is_alert, s.rules_triggered), (tid, g)
        assert abs(g["shadow_fraud_score"] - s.fraud_score) <= 1e-9 and abs(g["active_fraud_score"] - r.fraud_score) <= 1e-9
    either = {tid for tid, (_, r, _, s) in shadowed.items() if r.is_alert or s.is_alert}
    assert any(r.is_alert != s.is_alert for _, r, _, s in shadowed.values()), "the candidate decides differently somewhere"
    with connect(stack) as conn:
        runner.wait_for(lambda: conn.execute("SELECT count(*) FROM bronze.shadow_decisions WHERE transaction_id LIKE %s",
                                             [PREFIX + "%"]).fetchone()[0] >= len(either), TIMEOUT, "bronze.shadow_decisions")
        table = {r[0] for r in conn.execute("SELECT transaction_id FROM bronze.shadow_decisions WHERE transaction_id LIKE %s",
                                            [PREFIX + "%"]).fetchall()}
    assert table == either, "the table keeps the decisions where either rule set alerted"
    rep = rule_ops.shadow_report(stack)
    assert rep["candidate_version"] == sh["version"] and rep["events"] == len(shadowed)
    assert set(rep["added_ids"]) == {t for t, (_, r, _, s) in shadowed.items() if s.is_alert and not r.is_alert}
    assert set(rep["removed_ids"]) == {t for t, (_, r, _, s) in shadowed.items() if r.is_alert and not s.is_alert}
    assert rule_ops.show(stack)["shadow"]["version"] == sh["version"]
    rule_ops.shadow_stop(stack, "test", "seen enough")
    assert rule_ops.show(stack)["shadow"] is None


def test_gold_keeps_each_alert_version(stack: Settings, detector: dict, world: dict, published: dict):
    from streamflow.batch import refresh
    from streamflow.warehouse import dsn_for

    ids = sorted(_ids(world["batches"]))
    runner.wait_for(lambda: runner.bronze_counts(stack)["raw_transactions"] >= len(ids), TIMEOUT, "bronze")
    bronze = {t: v for t, (_, _, v) in _bronze_alerts(stack).items()}
    refresh(dsn_for(stack, "transform"), stack, {"settle_seconds": 0})
    with connect(stack) as conn:
        gold = dict(conn.execute("SELECT transaction_id, rule_version FROM gold.fact_fraud_alerts WHERE transaction_id = ANY(%s)",
                                 [ids]).fetchall())
    assert len(set(bronze.values())) >= 2 and gold == bronze, "every alert reaches gold with the version that raised it"


def test_diff_over_bronze_equals_the_offline_difference(stack: Settings, world: dict, candidates: list, capsys, tmp_path):
    from streamflow.cli import main

    with connect(stack) as conn:
        rows = conn.execute("SELECT raw_payload::text FROM bronze.raw_transactions ORDER BY id").fetchall()
    txs = [Transaction.model_validate_json(r[0]) for r in rows]
    assert len(txs) >= sum(N)
    blacklist = rule_ops.active_rules(stack)[1]
    active = rule_ops.active_rules(stack)[0]
    off = {tx.transaction_id for tx, r in score_events(txs, RuleEngine(active), blacklist) if r.is_alert}
    on = {tx.transaction_id for tx, r in score_events(txs, RuleEngine(candidates[1]), blacklist) if r.is_alert}
    d = rule_ops.diff(stack, candidates[1], workers=2)
    assert d["events"] == len(txs)
    assert set(d["added_ids"]) == on - off and set(d["removed_ids"]) == off - on
    assert (d["active"]["alerts"], d["candidate"]["alerts"]) == (len(off), len(on))
    # the same through the command line, with its report; and `show` with the history this module made
    cand = tmp_path / "cand.yaml"
    cand.write_text("fraud_rules:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in candidates[1].model_dump(mode="json").items()))
    capsys.readouterr()
    assert main(["rules", "diff", str(cand), "--json", "--out", str(tmp_path / "report")]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert (cli["added_ids"], cli["removed_ids"]) == (d["added_ids"], d["removed_ids"])
    assert "Rule-set diff" in (tmp_path / "report" / f"rules-diff-{cli['active_version']}-{cli['candidate_version']}.html").read_text()
    assert main(["rules", "show"]) == 0
    out = capsys.readouterr().out
    assert f"active rule set {rules_version(stack.fraud_rules)}" in out and "shadow-stop" in out and "no candidate shadowed" in out
