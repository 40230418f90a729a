"""The silver SQL checks the event contract (`models.Transaction`) and nothing else: its fields, the payment methods,
and every bound the model declares. SQL cannot import the model, so this test holds the two together: change one
and it fails until the other follows. No services: part of `make test-fast`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from streamflow.models import PaymentMethod, Transaction

ROOT = Path(__file__).resolve().parent.parent
SILVER = (ROOT / "sql" / "transforms" / "silver" / "clean_transactions.sql").read_text()
RANGES = (ROOT / "sql" / "quality" / "accepted_ranges.sql").read_text()


def _bounds(field: str) -> dict[str, object]:
    "The model's numeric bounds and pattern of one field (ge, le, gt, max_digits, decimal_places, pattern)."
    info = Transaction.model_fields[field]
    metadata = list(info.metadata)
    for arg in get_args(info.annotation):  # an optional field: the bounds sit on its Annotated member
        for m in getattr(arg, "__metadata__", ()):
            metadata += [m, *getattr(m, "metadata", ())]  # a pydantic Field(...) holds its constraints in .metadata
    out: dict[str, object] = {}
    for m in metadata:
        for k in ("ge", "le", "gt", "max_digits", "decimal_places", "pattern"):
            if getattr(m, k, None) is not None:
                out[k] = getattr(m, k)
    return out


def test_silver_parses_exactly_the_contract_fields():
    cols = re.search(r"jsonb_to_record\(.*?\)\s+AS x\((.*?)\)\n", SILVER, re.S)
    assert cols, "the payload's column list"
    names = [c.split()[0].strip('"') for c in cols.group(1).replace("\n", " ").split(",")]
    assert names == list(Transaction.model_fields)


def test_silver_payment_methods_are_the_contract_ones():
    listed = re.search(r"payment_method NOT IN \(([^)]*)\)", SILVER)
    assert listed
    assert sorted(m.strip(" '") for m in listed.group(1).split(",")) == sorted(m.value for m in PaymentMethod)


def test_silver_and_quality_bounds_are_the_contract_ones():
    inst = _bounds("installments")
    for sql in (SILVER, RANGES):
        assert f"installments NOT BETWEEN {inst['ge']} AND {inst['le']}" in sql
    lat, lng = _bounds("latitude"), _bounds("longitude")
    assert f"v.latitude BETWEEN {lat['ge']} AND {lat['le']}" in SILVER
    assert f"v.longitude BETWEEN {lng['ge']} AND {lng['le']}" in SILVER
    assert f"latitude BETWEEN {lat['ge']} AND {lat['le']} AND longitude BETWEEN {lng['ge']} AND {lng['le']}" in RANGES
    money = _bounds("amount")  # gt 0, at most max_digits digits of which decimal_places after the point
    top = 10 ** (money["max_digits"] - money["decimal_places"])
    assert f"v.amount > {money['gt']} AND v.amount < 1e{len(str(top)) - 1}" in SILVER
    assert f"scale(v.amount) > {money['decimal_places']}" in SILVER
    assert f"v.currency !~ '{_bounds('currency')['pattern']}'" in SILVER
