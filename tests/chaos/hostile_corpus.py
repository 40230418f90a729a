"""A seeded corpus of hostile records, each labelled with where the platform must route it: `dlq` or `bronze`.

The labels are decided here by construction, independently of the validator, from the event contract
(`streamflow.models.Transaction`) plus what bronze can hold:
- not JSON (RFC 8259), invalid UTF-8, wrong types, missing required fields, half a location, zero/negative/huge/
  non-finite amounts, coordinates out of range, timestamps without an offset or unparsable, ids that are empty,
  blank, longer than their warehouse column or hold a control character -> `dlq`;
- JSON that Python's parser takes but is not JSON and PostgreSQL's jsonb refuses (a bare `NaN`/`Infinity` token,
  a `\\u0000` escape) -> `dlq`: a record bronze cannot store must be dead-lettered with a reason, never crash the sink;
- an event whose timestamp is far in the past or future -> `dlq`: the contract bounds event time (from
  2000-01-01 to before 2100-01-01, `EVENT_TIME_MIN`/`EVENT_TIME_MAX`; `streamflow.models`), so no year 1 or 9999 reaches the windows;
- a valid event carrying SQL-injection text (in an extra field or as an id: ids are any readable text), non-ASCII
  text or extra fields, or leaving out what the contract makes optional (location, payment method, product)
  -> `bronze`, stored verbatim;
- a duplicate transaction id (an exact resend, or another event reusing an id) -> `bronze` again: bronze is the
  raw append-only log keyed by Kafka lineage; deduplication is silver's job.

Large payloads (`large_records`) are kept apart: they probe size limits, not parsing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

DLQ, BRONZE = "dlq", "bronze"
PRODUCER_MAX_BYTES = 1_000_000  # librdkafka's default message.max.bytes: what `produce_events` accepts


@dataclass(frozen=True)
class Hostile:
    "One hostile record: its kind, the exact bytes produced, and where it must end up."
    kind: str
    raw: bytes
    route: str  # DLQ or BRONZE


def _ev(valid: bytes) -> dict:
    return json.loads(valid)


def _dump(d: dict) -> bytes:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def _with(field: str, value) -> Callable[[dict, random.Random], bytes]:
    def f(e: dict, rng: random.Random) -> bytes:
        return _dump({**e, field: value})
    return f


def _without(field: str) -> Callable[[dict, random.Random], bytes]:
    def f(e: dict, rng: random.Random) -> bytes:
        return _dump({k: v for k, v in e.items() if k != field})
    return f


def _raw_token(field: str, token: str) -> Callable[[dict, random.Random], bytes]:
    "The event with `field` set to a bare token (not valid JSON, e.g. NaN) spliced in as text."
    def f(e: dict, rng: random.Random) -> bytes:
        d = _dump({**e, field: "__TOKEN__"})
        return d.replace(b'"__TOKEN__"', token.encode())
    return f


INJECTIONS = ["'; DROP TABLE bronze.raw_transactions; --", "1' OR '1'='1", "\"); DELETE FROM bronze.raw_fraud_alerts; --",
              "$$; TRUNCATE bronze.raw_transactions; $$", "x'::jsonb); SELECT pg_sleep(10); --", "%s%s%s%n", "{{7*7}}"]

# kind -> (route, maker(event dict, rng) -> bytes)
KINDS: dict[str, tuple[str, Callable[[dict, random.Random], bytes]]] = {
    # not JSON
    "not_json": (DLQ, lambda e, r: b"this is not json " + str(r.random()).encode()),
    "truncated_json": (DLQ, lambda e, r: (b := _dump(e))[: r.randint(1, len(b) - 2)]),
    "trailing_comma": (DLQ, lambda e, r: _dump(e)[:-1] + b",}"),
    "single_quotes": (DLQ, lambda e, r: _dump(e).replace(b'"', b"'")),
    "empty_value": (DLQ, lambda e, r: b""),
    "json_null": (DLQ, lambda e, r: b"null"),
    "json_array": (DLQ, lambda e, r: b"[" + _dump(e) + b"]"),
    "json_string": (DLQ, lambda e, r: json.dumps(json.dumps(e)).encode()),
    "deep_nesting": (DLQ, lambda e, r: b"[" * 5000 + b"]" * 5000),
    "invalid_utf8": (DLQ, lambda e, r: _dump(e).replace(b'"BRL"', b'"BR\xff\xfe"')),
    "invalid_utf8_id": (DLQ, lambda e, r: _dump(e).replace(b'"transaction_id":"', b'"transaction_id":"\xc3\x28')),
    "lone_surrogate": (DLQ, lambda e, r: _dump(e)[:-1] + b',"note":"\\ud800"}'),
    "nan_token_extra": (DLQ, _raw_token("note", "NaN")),
    "infinity_token_extra": (DLQ, _raw_token("score_hint", "Infinity")),
    "nul_escape_extra": (DLQ, lambda e, r: _dump(e)[:-1] + b',"note":"a\\u0000b"}'),
    # wrong types
    "amount_object": (DLQ, _with("amount", {"value": 10})),
    "amount_list": (DLQ, _with("amount", [1, 2])),
    "amount_bool": (DLQ, _with("amount", True)),
    "amount_text": (DLQ, _with("amount", "ten reais")),
    "latitude_text": (DLQ, _with("latitude", "north")),
    "installments_text": (DLQ, _with("installments", "many")),
    "customer_id_number": (DLQ, _with("customer_id", 12345)),
    "customer_id_object": (DLQ, _with("customer_id", {"id": "x"})),
    "payment_unknown": (DLQ, _with("payment_method", "bitcoin")),
    "currency_lower": (DLQ, _with("currency", "brl")),
    "installments_zero": (DLQ, _with("installments", 0)),
    "installments_huge": (DLQ, _with("installments", 10**20)),
    # missing fields
    "missing_transaction_id": (DLQ, _without("transaction_id")),
    "missing_customer_id": (DLQ, _without("customer_id")),
    "missing_amount": (DLQ, _without("amount")),
    "missing_timestamp": (DLQ, _without("timestamp")),
    "missing_latitude": (DLQ, _without("latitude")),  # half a location
    "missing_location": (BRONZE, lambda e, r: _dump({k: v for k, v in e.items() if k not in ("latitude", "longitude")})),
    "missing_payment_method": (BRONZE, _without("payment_method")),
    "missing_product": (BRONZE, _without("product_id")),
    "empty_object": (DLQ, lambda e, r: b"{}"),
    "empty_id": (DLQ, _with("transaction_id", "")),
    "blank_id": (DLQ, _with("customer_id", "   ")),
    "control_char_in_id": (DLQ, _with("transaction_id", "t-\u0007-bell")),
    "store_id_too_long": (DLQ, _with("store_id", "s" * 51)),
    "id_with_spaces_and_commas": (BRONZE, _with("store_id", "Loja Centro, São Paulo")),
    # amounts
    "amount_zero": (DLQ, _with("amount", "0.00")),
    "amount_negative": (DLQ, _with("amount", "-12.50")),
    "amount_huge": (DLQ, _with("amount", "1e30")),
    "amount_too_many_digits": (DLQ, _with("amount", "12345678901234.56")),
    "amount_three_decimals": (DLQ, _with("amount", "10.005")),
    "amount_nan_text": (DLQ, _with("amount", "NaN")),
    "amount_infinity_text": (DLQ, _with("amount", "Infinity")),
    "amount_nan_token": (DLQ, _raw_token("amount", "NaN")),
    "amount_float_huge": (DLQ, _with("amount", 1e308)),
    # coordinates
    "latitude_91": (DLQ, _with("latitude", 91.0)),
    "latitude_minus_91": (DLQ, _with("latitude", -91.0)),
    "longitude_181": (DLQ, _with("longitude", 181.0)),
    "latitude_nan_token": (DLQ, _raw_token("latitude", "NaN")),
    "longitude_inf_token": (DLQ, _raw_token("longitude", "-Infinity")),
    # timestamps
    "timestamp_no_offset": (DLQ, _with("timestamp", "2026-01-05T10:00:00")),
    "timestamp_garbage": (DLQ, _with("timestamp", "yesterday at noon")),
    "timestamp_year_10000": (DLQ, _with("timestamp", "10000-01-01T00:00:00+00:00")),
    "timestamp_number_huge": (DLQ, _with("timestamp", 10**30)),
    "timestamp_far_past": (DLQ, _with("timestamp", "0001-01-01T00:00:00+00:00")),
    "timestamp_1900": (DLQ, _with("timestamp", "1900-01-01T12:00:00-03:00")),
    "timestamp_far_future": (DLQ, _with("timestamp", "9999-12-31T23:59:59+00:00")),
    "timestamp_2999": (DLQ, _with("timestamp", "2999-06-01T08:00:00-03:00")),
    # SQL injection
    "injection_in_id": (BRONZE, lambda e, r: _dump({**e, "transaction_id": r.choice(INJECTIONS) + f" {r.random()}"})),
    "injection_in_store": (BRONZE, lambda e, r: _dump({**e, "store_id": r.choice(INJECTIONS)})),
    "injection_in_extra_field": (BRONZE, lambda e, r: _dump({**e, "note": r.choice(INJECTIONS)})),
    "injection_as_key": (BRONZE, lambda e, r: _dump({**e, r.choice(INJECTIONS): "x"})),
    # valid but unusual
    "unicode_extra_field": (BRONZE, _with("note", "café ☕ 💳 — ção \u202e")),
    "many_extra_fields": (BRONZE, lambda e, r: _dump({**e, **{f"x{i}": i for i in range(200)}})),
}

DUPLICATE_KINDS = {"duplicate_resend": BRONZE, "duplicate_id_other_event": BRONZE}


def hostile_corpus(valid: list[bytes], n: int = 1200, seed: int = 0) -> list[Hostile]:
    "`n` hostile records built from the `valid` event lines: every kind at least once, the rest drawn at random."
    rng = random.Random(seed)
    kinds = list(KINDS) + list(DUPLICATE_KINDS)
    order = kinds + [rng.choice(kinds) for _ in range(max(0, n - len(kinds)))]
    out = []
    for i, kind in enumerate(order):
        line = valid[rng.randrange(len(valid))]
        e = _ev(line)
        if kind == "duplicate_resend":
            out.append(Hostile(kind, line, BRONZE))
            continue
        if kind == "duplicate_id_other_event":
            other = _ev(valid[rng.randrange(len(valid))])
            out.append(Hostile(kind, _dump({**other, "transaction_id": e["transaction_id"]}), BRONZE))
            continue
        route, make = KINDS[kind]
        if route == BRONZE:  # a new, unique id: this record is its own event (duplicates are their own kinds)
            e = {**e, "transaction_id": f"hostile-{seed}-{i:06d}"}
        out.append(Hostile(kind, make(e, rng), route))
    return out


def mix(valid: list[bytes], hostile: list[Hostile], seed: int = 0) -> list[bytes]:
    "The valid lines with the hostile records inserted at random (seeded) positions, valid order kept."
    rng = random.Random(seed + 1)
    slots = sorted(rng.randrange(len(valid) + 1) for _ in hostile)
    out: list[bytes] = []
    j = 0
    for i, line in enumerate(valid):
        while j < len(slots) and slots[j] == i:
            out.append(hostile[j].raw)
            j += 1
        out.append(line)
    out.extend(h.raw for h in hostile[j:])
    return out


def large_records(valid: list[bytes], seed: int = 0, size: int = 990_000) -> list[Hostile]:
    "~1 MB records just under the producer's limit: a valid event with a large field (bronze), and junk (DLQ)."
    rng = random.Random(seed)
    e = _ev(valid[rng.randrange(len(valid))])
    big_valid = {**e, "transaction_id": f"large-{seed}-valid", "notes": ""}
    pad = size - len(_dump(big_valid))
    big_valid["notes"] = "".join(rng.choice("abcdefghij") for _ in range(pad))
    junk = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz {}[]") for _ in range(size))
    big_invalid = {**e, "transaction_id": f"large-{seed}-invalid", "amount": "-1.00", "notes": big_valid["notes"]}
    return [Hostile("large_valid", _dump(big_valid), BRONZE), Hostile("large_junk", junk, DLQ),
            Hostile("large_invalid_event", _dump(big_invalid), DLQ)]


def oversized_record(valid: list[bytes], size: int = 1_200_000) -> bytes:
    "A record over the producer's message.max.bytes: the producer must refuse it, clearly, before it reaches Kafka."
    e = _ev(valid[0])
    return _dump({**e, "transaction_id": "oversized", "notes": "x" * size})
