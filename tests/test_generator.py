"""The event file writer behind `streamflow generate`: files, sidecars, determinism and validity."""

import json

import pytest

from streamflow.config import load_config
from streamflow.generator import iter_events, sidecar_paths, write_events
from streamflow.models import Transaction, parse_record
from streamflow.olist import load_olist_stats
from streamflow.world import PATTERNS, make_world

N = 30_000


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def written(tmp_path_factory, cfg):
    path = tmp_path_factory.mktemp("gen") / "events.jsonl"
    summary = write_events(path, N, seed=11, fraud_rate=0.02, cfg=cfg.generator, progress=False)
    return path, summary


def test_three_files_aligned(written, cfg):
    path, s = written
    p = sidecar_paths(path)
    events = p["events"].read_text().splitlines()
    labels = [json.loads(x) for x in p["labels"].read_text().splitlines()]
    assert len(events) == len(labels) == N == s["events"]
    assert [json.loads(e)["transaction_id"] for e in events] == [lab["transaction_id"] for lab in labels]
    assert all(set(lab) == {"transaction_id", "is_fraud", "pattern"} for lab in labels)
    assert all((lab["pattern"] is None) == (not lab["is_fraud"]) for lab in labels)
    assert {lab["pattern"] for lab in labels if lab["is_fraud"]} == set(PATTERNS)
    blacklist = json.loads(p["blacklist"].read_text())["customer_ids"]
    assert len(blacklist) == cfg.generator.blacklist_size
    by_id = {json.loads(e)["transaction_id"]: json.loads(e)["customer_id"] for e in events}
    for lab in labels:  # every event of a blacklisted account is labelled, and only those are "blacklisted"
        assert (by_id[lab["transaction_id"]] in blacklist) == (lab["pattern"] == "blacklisted")


def test_summary_matches_files(written):
    path, s = written
    labels = [json.loads(x) for x in sidecar_paths(path)["labels"].read_text().splitlines()]
    frauds = [lab["pattern"] for lab in labels if lab["is_fraud"]]
    assert s["frauds"] == len(frauds)
    assert s["frauds_by_pattern"] == {p: frauds.count(p) for p in PATTERNS}
    assert 0.015 < s["fraud_rate"] < 0.025
    assert s["events_per_s"] > 0 and s["paths"]["events"] == str(path)


def test_every_line_is_a_valid_transaction(written):
    path, _ = written
    lines = path.read_bytes().splitlines()
    bad = [(i, reason) for i, line in enumerate(lines) if (reason := parse_record(line)[1]) is not None]
    assert bad == []
    t = Transaction.model_validate_json(lines[0])
    assert t.currency == "BRL" and t.timestamp.utcoffset().total_seconds() == -3 * 3600


def test_same_seed_same_bytes(tmp_path, cfg):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for p, seed in [(a, 5), (b, 5), (c, 6)]:
        write_events(p, 2000, seed=seed, cfg=cfg, progress=False)
    for key in ("events", "labels", "blacklist"):
        assert sidecar_paths(a)[key].read_bytes() == sidecar_paths(b)[key].read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_file_equals_iter_events(tmp_path, cfg):
    p = tmp_path / "e.jsonl"
    write_events(p, 1000, seed=3, fraud_rate=0.05, cfg=cfg, progress=False)
    world = make_world(cfg.generator, load_olist_stats(), seed=3)
    pairs = list(iter_events(world, 1000, 3, 0.05))
    assert [json.loads(x) for x in p.read_text().splitlines()] == [e for e, _ in pairs]
    labels = sidecar_paths(p)["labels"].read_text().splitlines()
    assert [json.loads(x) for x in labels] == [lab._asdict() for _, lab in pairs]


def test_zero_events_and_zero_fraud(tmp_path, cfg):
    s = write_events(tmp_path / "z.jsonl", 0, seed=1, cfg=cfg, progress=False)
    assert s["events"] == 0 and (tmp_path / "z.jsonl").read_text() == ""
    s = write_events(tmp_path / "nf.jsonl", 3000, seed=1, fraud_rate=0.0, cfg=cfg, progress=False)
    assert s["frauds"] == 0


def test_rejects_impossible_fraud_rate(tmp_path, cfg):
    with pytest.raises(ValueError, match="too high"):
        write_events(tmp_path / "x.jsonl", 10, seed=1, fraud_rate=0.99, cfg=cfg, progress=False)


def test_fraud_carries_corroborating_signals_legit_rarely(cfg):
    """Fraud mostly shows several signals at once (far from home, much larger amount); legitimate purchases rarely do."""
    import math

    from streamflow.models import haversine_km

    world = make_world(cfg.generator, load_olist_stats(), seed=12)
    h = world.habits
    far, big, n = {}, {}, {}
    for ev, lab in iter_events(world, 40_000, 12, 0.02):
        c = int(ev["customer_id"][2:])
        key = lab.pattern or "legit"
        n[key] = n.get(key, 0) + 1
        is_far = haversine_km(ev["latitude"], ev["longitude"], h.lat[c], h.lng[c]) > 150
        is_big = float(ev["amount"]) > 3 * h.typical_amount[c]
        far[key] = far.get(key, 0) + is_far
        big[key] = big.get(key, 0) + (is_far and is_big)
    share = {k: far[k] / n[k] for k in n}
    both = {k: big[k] / n[k] for k in n}
    assert share["account_takeover"] > 0.95 and share["velocity_burst"] > 0.6, share
    assert share["legit"] < 0.05, share  # trips happen, but most purchases are made near home
    assert both["account_takeover"] > 0.5 and both["legit"] < 0.002, both  # far *and* much larger: fraud's signature
    assert math.isclose(sum(n.values()), 40_000)
