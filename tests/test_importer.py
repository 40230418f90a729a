"""`streamflow import`: a slice of sparkov-dev through the shipped mapping (counts, rejects, mapped values), and the
whole development set when the team's shared data folder is there."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from streamflow.importer import import_file
from streamflow.models import Transaction

ROOT = Path(__file__).resolve().parent.parent
SLICE = ROOT / "data/samples/sparkov_slice.csv.gz"
MAPPING = ROOT / "config/mappings/sparkov.yaml"
DEV = ROOT.parent / "shared/data/sparkov-dev/sparkov_dev_2019.csv.gz"


def _lines(path: str | Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()]


def test_slice_through_the_shipped_mapping(tmp_path):
    raw = pd.read_csv(SLICE, dtype=str, keep_default_na=False)
    s = import_file(SLICE, MAPPING, tmp_path / "ev.jsonl", progress=False)
    assert (s["rows"], s["imported"], s["rejected"]) == (len(raw), len(raw), 0)
    assert s["frauds"] == (raw["is_fraud"] == "1").sum() > 0
    assert s["customers"] == raw["cc_num"].nunique() and s["unmapped_columns"] == []
    events, labels = _lines(s["events"]), _lines(s["labels"])
    assert [e["transaction_id"] for e in events] == [x["transaction_id"] for x in labels]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    by_id = raw.set_index("trans_num")
    for e in events[:50] + events[-50:]:
        r = by_id.loc[e["transaction_id"]]
        Transaction.model_validate(e)
        assert e["customer_id"] == "cc-" + r["cc_num"]
        assert e["store_id"] == r["merchant"].removeprefix("fraud_").replace(", ", "_").replace(" ", "_")
        assert e["product_id"] == "cat-" + r["category"]
        assert e["amount"] == f"{float(r['amt']):.2f}" and e["currency"] == "USD" and e["payment_method"] == "credit_card"
        assert (e["latitude"], e["longitude"]) == (float(r["merch_lat"]), float(r["merch_long"]))
        assert e["timestamp"] == r["trans_date_trans_time"].replace(" ", "T") + "Z"  # read as UTC: the local hour is kept
    fraud = {x["transaction_id"] for x in labels if x["is_fraud"]}
    assert fraud == set(raw.loc[raw["is_fraud"] == "1", "trans_num"])
    assert any(", " in m for m in raw["merchant"])  # the slice has the merchant names that need a slug
    record = json.loads(Path(s["record"]).read_text())
    assert record["mapping"] == str(MAPPING) and record["imported"] == len(raw)


def test_bad_rows_are_rejected_with_their_row_and_reason(tmp_path):
    raw = pd.read_csv(SLICE, dtype=str, keep_default_na=False).head(200)
    raw.loc[3, "amt"] = "12,50"  # a decimal comma
    raw.loc[7, "trans_date_trans_time"] = "2019-02-30 10:00:00"  # no such day
    raw.loc[11, "trans_num"] = raw.loc[10, "trans_num"]  # a repeated id
    raw.loc[15, "merch_lat"] = "95.2"  # off the globe
    raw.loc[19, "cc_num"] = ""  # no customer
    src = tmp_path / "bad.csv.gz"
    with gzip.open(src, "wt", encoding="utf-8") as f:
        raw.to_csv(f, index=False)
    s = import_file(src, MAPPING, tmp_path / "ev.jsonl", progress=False)
    assert (s["rows"], s["imported"], s["rejected"]) == (200, 195, 5)
    rejects = {r["row"]: r["reason"] for r in _lines(s["rejects"])}
    assert sorted(rejects) == [4, 8, 12, 16, 20]  # data rows counted from 1
    assert rejects[4] == "amount: '12,50' is not a number"
    assert rejects[8] == "trans_date_trans_time: '2019-02-30 10:00:00' does not match format '%Y-%m-%d %H:%M:%S'"
    assert rejects[12] == f"transaction_id: '{raw.loc[11, 'trans_num']}' repeats row 11"
    assert rejects[16].startswith("latitude: ")
    assert rejects[20] == "customer_id: missing (cc_num)"
    assert s["rejects_by_field"] == {"amount": 1, "trans_date_trans_time": 1, "transaction_id": 1, "latitude": 1, "customer_id": 1}
    assert len(_lines(s["labels"])) == 195


@pytest.mark.skipif(not DEV.is_file(), reason="the team's shared data folder (../shared/data/sparkov-dev) is not here")
def test_the_whole_development_set(tmp_path):
    s = import_file(DEV, MAPPING, tmp_path / "ev.jsonl", progress=False)
    assert (s["rows"], s["imported"], s["rejected"], s["frauds"], s["customers"]) == (98_866, 98_866, 0, 1_094, 119)
    assert (s["first_event"], s["last_event"]) == ("2019-01-01T00:21:05+00:00", "2019-12-31T23:56:48+00:00")
