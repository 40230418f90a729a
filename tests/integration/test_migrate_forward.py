"""A warehouse built before the design contract (migrations 001-014, issue 20) migrates forward and keeps its rows.

The old database is filled the way the old jobs and transforms left it (old column names, an alert with a text[] of
rules, an invalid silver row without a customer); then every migration runs. Nothing is lost: every row is still
there under the design's names, the invalid row moved to silver.rejected_transactions with its reasons, the new
columns are back-filled, and the current transforms carry on from the old watermarks.
"""

import shutil

from streamflow.batch import refresh
from streamflow.warehouse import MIGRATIONS_DIR, connect, dsn_for, migrate

OLD = """
INSERT INTO bronze.raw_transactions (id, topic, "partition", "offset", kafka_key, transaction_id, event_time, payload)
VALUES (1, 'transactions.raw', 0, 10, 'c-1', 't-1', '2026-01-05 12:00+00', '{"transaction_id": "t-1"}'),
       (2, 'transactions.raw', 1, 11, 'c-1', 't-2', '2026-01-05 13:00+00', '{"transaction_id": "t-2"}'),
       (3, 'transactions.raw', 2, 12, NULL, 't-3', NULL, '{"transaction_id": "t-3"}');
SELECT setval('bronze.raw_transactions_id_seq', 3);
INSERT INTO bronze.raw_fraud_alerts (id, transaction_id, customer_id, fraud_score, rules_triggered, rule_scores,
                                     event_time, detected_at, payload)
VALUES (1, 't-2', 'c-1', 0.8123, '{FR-001,FR-002}', '{"FR-001": 0.3, "FR-002": 0.5123}', '2026-01-05 13:00+00',
        '2026-01-05 13:00:01+00', '{"transaction_id": "t-2"}');
INSERT INTO silver.customers (customer_id, state, latitude, longitude, created_at)
VALUES ('c-1', 'SP', -23.5, -46.6, '2025-06-01+00'), ('c-2', 'RJ', -22.9, -43.2, '2025-07-01+00');
INSERT INTO silver.stores (store_id, name, state, latitude, longitude) VALUES ('s-1', 'Loja 1', 'SP', -23.5, -46.6);
INSERT INTO silver.products (product_id, category, price) VALUES ('p-1', 'toys', 19.90);
INSERT INTO silver.fraud_alerts (alert_id, transaction_id, customer_id, fraud_score, rules_triggered, rule_scores,
                                 event_time, detected_at, latency_ms, ingested_at)
VALUES (1, 't-2', 'c-1', 0.8123, '{FR-001,FR-002}', '{"FR-001": 0.3, "FR-002": 0.5123}', '2026-01-05 13:00+00',
        '2026-01-05 13:00:01+00', 1000, now());
INSERT INTO silver.transactions (bronze_id, transaction_id, customer_id, store_id, product_id, amount, currency,
    payment_method, installments, latitude, longitude, event_time, fraud_score, is_fraud, rules_triggered, is_valid,
    quality_checks, kafka_topic, kafka_partition, kafka_offset, ingested_at)
VALUES (1, 't-1', 'c-1', 's-1', 'p-1', 100.00, 'BRL', 'boleto', 1, -23.5, -46.6, '2026-01-05 12:00+00', NULL, false,
        NULL, true, '{}', 'transactions.raw', 0, 10, now()),
       (2, 't-2', 'c-1', 's-1', NULL, 300.00, 'BRL', 'credit_card', 3, -23.5, -46.6, '2026-01-05 13:00+00', 0.8123,
        true, '{FR-001,FR-002}', true, '{}', 'transactions.raw', 1, 11, now()),
       (3, 't-3', NULL, 's-1', NULL, 5.00, 'BRL', 'boleto', 1, -23.5, -46.6, '2026-01-05 14:00+00', NULL, false, NULL,
        false, '{missing_customer_id}', 'transactions.raw', 2, 12, now());
UPDATE ops.watermarks SET last_id = 3 WHERE pipeline = 'silver.transactions';
UPDATE ops.watermarks SET last_id = 1 WHERE pipeline IN ('silver.fraud_alerts', 'silver.attach_alerts');
INSERT INTO gold.dim_date (date_key, date, year, quarter, month, day, day_of_week, day_name, month_name, is_weekend)
VALUES (20260105, '2026-01-05', 2026, 1, 1, 5, 1, 'Monday', 'January', false);
INSERT INTO gold.dim_customer (customer_key, customer_id, state, latitude, longitude, created_at)
VALUES (1, 'c-1', 'SP', -23.5, -46.6, '2025-06-01+00');
INSERT INTO gold.dim_store (store_key, store_id, name, state, latitude, longitude) VALUES (1, 's-1', 'Loja 1', 'SP', -23.5, -46.6);
INSERT INTO gold.dim_product (product_key, product_id, category, price) VALUES (1, 'p-1', 'toys', 19.90);
INSERT INTO gold.fact_transactions (transaction_key, transaction_id, date_key, event_hour, customer_key, store_key,
    product_key, event_time, amount, currency, payment_method, installments, latitude, longitude, fraud_score, is_fraud,
    ingested_at)
VALUES (1, 't-1', 20260105, '2026-01-05 12:00+00', 1, 1, 1, '2026-01-05 12:00+00', 100, 'BRL', 'boleto', 1, -23.5,
        -46.6, NULL, false, now()),
       (2, 't-2', 20260105, '2026-01-05 13:00+00', 1, 1, NULL, '2026-01-05 13:00+00', 300, 'BRL', 'credit_card', 3,
        -23.5, -46.6, 0.8123, true, now());
INSERT INTO gold.fact_fraud_alerts (alert_key, transaction_key, transaction_id, date_key, customer_key, store_key,
    amount, fraud_score, rules_triggered, rule_count, event_time, detected_at, latency_ms, ingested_at)
VALUES (1, 2, 't-2', 20260105, 1, 1, 300, 0.8123, '{FR-001,FR-002}', 2, '2026-01-05 13:00+00', NULL, 1000, now());
INSERT INTO gold.agg_hourly_sales (event_hour, store_key, date_key, tx_count, total_amount, avg_amount, customers,
                                   fraud_count, fraud_amount)
VALUES ('2026-01-05 12:00+00', 1, 20260105, 1, 100, 100, 1, 0, 0), ('2026-01-05 13:00+00', 1, 20260105, 1, 300, 300, 1, 1, 300);
INSERT INTO gold.agg_daily_fraud (date_key, tx_count, total_amount, alert_count, alerted_amount, alert_rate,
    avg_fraud_score, max_fraud_score, customers_alerted, stores_alerted)
VALUES (20260105, 2, 400, 1, 300, 0.5, 0.8123, 0.8123, 1, 1);
SELECT setval(pg_get_serial_sequence(t, c), 2)
FROM (VALUES ('gold.dim_customer', 'customer_key'), ('gold.dim_store', 'store_key'), ('gold.dim_product', 'product_key'),
             ('gold.fact_transactions', 'transaction_key'), ('gold.fact_fraud_alerts', 'alert_key')) v(t, c);
"""


def _old_only(stack, tmp_path):
    "A copy of the migrations folder as it was before the design contract (001-014)."
    folder = tmp_path / "migrations"
    shutil.copytree(stack.path(MIGRATIONS_DIR), folder)
    for f in folder.glob("*.sql"):
        if int(f.name[:3]) >= 15:
            f.unlink()
    return folder


def test_an_old_warehouse_migrates_forward_and_keeps_its_rows(stack, fresh_db, tmp_path):
    migrate(fresh_db, _old_only(stack, tmp_path))
    with connect(fresh_db) as c:
        c.execute(OLD)
    assert migrate(fresh_db) != []  # 015 and later
    with connect(fresh_db) as c:
        q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
        assert q("SELECT id, kafka_topic, kafka_partition, kafka_offset, schema_version, event_timestamp IS NOT NULL, "
                 "raw_payload ->> 'transaction_id' FROM bronze.raw_transactions ORDER BY id") == [
            (1, "transactions.raw", 0, 10, 1, True, "t-1"), (2, "transactions.raw", 1, 11, 1, True, "t-2"),
            (3, "transactions.raw", 2, 12, 1, True, "t-3")]
        assert q("SELECT alert_type, fraud_score::text, rules_triggered, raw_payload ->> 'transaction_id' "
                 "FROM bronze.raw_fraud_alerts") == [("velocity", "0.812", ["FR-001", "FR-002"], "t-2")]
        assert q("SELECT transaction_id, transaction_at IS NOT NULL, quality_checks FROM silver.clean_transactions "
                 "ORDER BY transaction_id") == [("t-1", True, []), ("t-2", True, [])]
        assert q("SELECT bronze_id, transaction_id, reasons, raw_payload ->> 'transaction_id' "
                 "FROM silver.rejected_transactions") == [(3, "t-3", ["missing_customer_id"], "t-3")]
        assert q("SELECT customer_id, name, total_transactions, avg_transaction_amt::text, risk_profile, "
                 "first_seen_at IS NOT NULL FROM silver.customers ORDER BY customer_id") == [
            ("c-1", "unknown", 2, "200.00", "normal", True), ("c-2", "unknown", 0, "0.00", "normal", True)]
        assert q("SELECT alert_type FROM silver.fraud_alerts") == [("velocity",)]
        assert q("SELECT full_date::text FROM gold.dim_date") == [("2026-01-05",)]
        assert q("SELECT count(*), sum(amount)::text FROM gold.fact_transactions") == [(2, "400.00")]
        assert q("SELECT alert_type, detected_at IS NOT NULL FROM gold.fact_fraud_alerts") == [("velocity", True)]
        assert q("SELECT hour_timestamp IS NOT NULL, transaction_count FROM gold.agg_hourly_sales ORDER BY 2") == [
            (True, 1), (True, 1)]
        assert q("SELECT total_txns, total_alerts, fraud_rate::text, avg_score::text, top_rule FROM gold.agg_daily_fraud") == [
            (2, 1, "0.5000", "0.812", "FR-001")]
        assert q("SELECT pipeline, last_id FROM ops.watermarks WHERE pipeline LIKE 'silver.%' ORDER BY 1") == [
            ("silver.attach_alerts", 1), ("silver.clean_transactions", 3), ("silver.customers", 2),
            ("silver.fraud_alerts", 1)]
    # the current transforms carry on from the old watermarks: nothing is read twice, nothing is counted twice
    out = refresh(dsn_for(fresh_db, "transform"), fresh_db, {"settle_seconds": 0})
    assert out["clean_transactions"]["rows"][0]["rows_read"] == 0
    with connect(fresh_db) as c:
        # statistics unchanged; the risk profile, derived from the alerts, is set by the first run of customers.sql
        assert c.execute("SELECT total_transactions, risk_profile FROM silver.customers "
                         "WHERE customer_id = 'c-1'").fetchone() == (2, "elevated")
        assert c.execute("SELECT count(*) FROM gold.fact_transactions").fetchone() == (2,)
