"""Helpers for the batch tests: fill bronze the way the streaming jobs do (generated events as JSON payloads with
Kafka lineage, alerts from the real rule engine), written with the writer role; fingerprints and consistency sums."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from streamflow.bench_fixtures import ALERT_COPY, TX_COPY
from streamflow.config import Settings
from streamflow.messages import rules_version
from streamflow.models import SCHEMA_VERSION, Transaction, parse_record
from streamflow.rows import bronze_alert_row
from streamflow.rules import RuleEngine
from streamflow.scoring import load_blacklist, score_events
from streamflow.warehouse import connect

SEED = 7
TOPIC = "transactions.raw"
BRONZE_TX_COPY = TX_COPY  # rows.BRONZE_TRANSACTION + schema_version


def events(tmp: Path, n: int, seed: int = SEED, cfg: Settings | None = None) -> Path:
    "Generate `n` events (and their labels and blacklist sidecars) with the project's generator."
    from streamflow.generator import write_events

    path = tmp / f"events-{seed}-{n}.jsonl"
    write_events(path, n, seed, cfg=cfg, progress=False)
    return path


def write_bronze(cfg: Settings, path: Path, first_offset: int = 0, partition: int = 0, txs: bool = True,
                 alerts: bool = True) -> dict:
    "Insert the events of `path` into bronze as the writer role, and the alerts the rule engine raises on them."
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    parsed = [tx for tx, _ in map(parse_record, lines) if isinstance(tx, Transaction)]
    bl = Path(f"{path}.blacklist.json")
    scored = list(score_events(parsed, RuleEngine(cfg.fraud_rules), load_blacklist(bl) if bl.exists() else frozenset()))
    now = datetime.now(UTC)
    n_alerts = 0
    with connect(cfg, "writer") as conn, conn.cursor() as cur:
        with cur.copy(BRONZE_TX_COPY) as cp:
            for i, line in enumerate(lines if txs else []):
                d = json.loads(line)
                cp.write_row((TOPIC, partition, first_offset + i, d.get("customer_id"), d.get("transaction_id"),
                              d.get("timestamp"), line, SCHEMA_VERSION))
        if alerts:
            with cur.copy(ALERT_COPY) as cp:
                for i, (tx, r) in enumerate(scored):
                    if r.is_alert:
                        src = {"topic": TOPIC, "partition": partition, "offset": first_offset + i}
                        cp.write_row((*bronze_alert_row(r.to_alert(tx, now, rules_version(cfg.fraud_rules)), src), SCHEMA_VERSION))
                        n_alerts += 1
    return {"events": len(lines) if txs else 0, "valid": len(parsed), "alerts": n_alerts}


def seed_defects(cfg: Settings, n_dups: int, n_nulls: int, first_offset: int) -> None:
    "Insert into bronze (writer role) copies of existing events under new offsets and events with null fields."
    with connect(cfg, "owner") as conn:
        rows = conn.execute("SELECT kafka_key, transaction_id, event_timestamp, raw_payload::text "
                            "FROM bronze.raw_transactions ORDER BY id LIMIT %s", [n_dups]).fetchall()
    with connect(cfg, "writer") as conn, conn.cursor() as cur:
        with cur.copy(BRONZE_TX_COPY) as cp:
            for i, (key, tid, ts, payload) in enumerate(rows):
                cp.write_row((TOPIC, 1, first_offset + i, key, tid, ts, payload, SCHEMA_VERSION))
            for i in range(n_nulls):
                bad = {"transaction_id": f"defect-{i}", "customer_id": None, "store_id": "s-0001", "amount": None,
                       "currency": "BRL", "payment_method": "boleto", "installments": 1, "latitude": -23.5,
                       "longitude": -46.6, "timestamp": "2026-01-06T10:00:00-03:00"}
                cp.write_row((TOPIC, 2, first_offset + i, None, bad["transaction_id"], bad["timestamp"], json.dumps(bad),
                              SCHEMA_VERSION))


FINGERPRINT = """
SELECT 'silver.clean_transactions', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY bronze_id), '')) FROM silver.clean_transactions t
UNION ALL SELECT 'silver.rejected_transactions', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY bronze_id), '')) FROM silver.rejected_transactions t
UNION ALL SELECT 'silver.customers', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY customer_id), '')) FROM silver.customers t
UNION ALL SELECT 'silver.fraud_alerts', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY alert_id), '')) FROM silver.fraud_alerts t
UNION ALL SELECT 'gold.dim_date', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY date_key), '')) FROM gold.dim_date t
    -- the calendar also runs to `days_ahead` past today, so it grows when a test crosses midnight UTC: only the days of the data
    WHERE t.full_date <= (SELECT max((transaction_at AT TIME ZONE 'UTC')::date) FROM gold.fact_transactions)
UNION ALL SELECT 'gold.dim_customer', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY customer_key), '')) FROM gold.dim_customer t
UNION ALL SELECT 'gold.dim_store', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY store_key), '')) FROM gold.dim_store t
UNION ALL SELECT 'gold.dim_product', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY product_key), '')) FROM gold.dim_product t
UNION ALL SELECT 'gold.fact_transactions', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY transaction_key), '')) FROM gold.fact_transactions t
UNION ALL SELECT 'gold.fact_fraud_alerts', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY alert_key), '')) FROM gold.fact_fraud_alerts t
UNION ALL SELECT 'gold.agg_hourly_sales', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY hour_timestamp, store_key), '')) FROM gold.agg_hourly_sales t
UNION ALL SELECT 'gold.agg_daily_fraud', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY date_key), '')) FROM gold.agg_daily_fraud t
UNION ALL SELECT 'ops.watermarks', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY pipeline), '')) FROM ops.watermarks t
"""


def fingerprint(cfg: Settings) -> list[tuple]:
    "Row count and content hash of every silver and gold table and of the watermarks."
    with connect(cfg, "owner") as conn:
        return conn.execute(FINGERPRINT).fetchall()


CONSISTENCY = """
SELECT (SELECT count(*) FROM silver.clean_transactions WHERE is_valid) AS valid_silver,
       (SELECT count(*) FROM gold.fact_transactions) AS facts,
       (SELECT coalesce(sum(transaction_count), 0) FROM gold.agg_hourly_sales) AS agg_count,
       (SELECT coalesce(sum(total_amount), 0) FROM gold.agg_hourly_sales) AS agg_amount,
       (SELECT coalesce(sum(amount), 0) FROM gold.fact_transactions) AS fact_amount,
       (SELECT coalesce(sum(fraud_count), 0) FROM gold.agg_hourly_sales) AS agg_frauds,
       (SELECT count(*) FROM gold.fact_transactions WHERE is_fraud) AS fact_frauds,
       (SELECT coalesce(sum(total_alerts), 0) FROM gold.agg_daily_fraud) AS daily_alerts,
       (SELECT count(*) FROM gold.fact_fraud_alerts) AS alert_facts,
       (SELECT coalesce(sum(total_txns), 0) FROM gold.agg_daily_fraud) AS daily_count
"""


def consistency(cfg: Settings) -> dict:
    "The numbers that must agree between silver, the facts and the aggregates."
    with connect(cfg, "owner") as conn, conn.cursor() as cur:
        cur.execute(CONSISTENCY)
        return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def assert_consistent(c: dict) -> None:
    assert c["facts"] > 0
    assert c["facts"] == c["valid_silver"]
    assert c["agg_count"] == c["facts"] == c["daily_count"]
    assert c["agg_amount"] == c["fact_amount"]
    assert c["agg_frauds"] == c["fact_frauds"]
    assert c["daily_alerts"] == c["alert_facts"]
