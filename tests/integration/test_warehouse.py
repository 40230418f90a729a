"""The warehouse on the real PostgreSQL: migrations (forward-only, rerunnable), role privileges, seed."""

import shutil
import uuid

import psycopg
import pytest
from psycopg import errors, sql

from streamflow.local.postgres import passwords
from streamflow.warehouse import (
    MIGRATIONS_DIR,
    MigrationError,
    applied_migrations,
    connect,
    discover_migrations,
    dsn_for,
    migrate,
)

SCHEMA_SNAPSHOT = """
SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema IN ('bronze', 'silver', 'gold', 'ops')
UNION ALL
SELECT 'grant', grantee, table_schema || '.' || table_name, privilege_type, '', ''
FROM information_schema.role_table_grants WHERE table_schema IN ('bronze', 'silver', 'gold', 'ops')
UNION ALL
SELECT 'index', schemaname, indexname, indexdef, '', '' FROM pg_indexes WHERE schemaname IN ('bronze', 'silver', 'gold', 'ops')
ORDER BY 1, 2, 3, 4
"""


def snapshot(cfg):
    with connect(cfg) as c:
        return c.execute(SCHEMA_SNAPSHOT).fetchall(), c.execute(
            "SELECT version, name, checksum, applied_at FROM ops.schema_migrations ORDER BY version").fetchall()


def test_migrations_apply_in_order_then_rerun_changes_nothing(stack, fresh_db):
    on_disk = [m.version for m in discover_migrations(stack.path(MIGRATIONS_DIR))]
    assert migrate(fresh_db) == on_disk
    first = snapshot(fresh_db)
    assert migrate(fresh_db) == []
    assert snapshot(fresh_db) == first  # same tables, columns, grants, indexes and history rows
    assert [r[0] for r in first[1]] == on_disk
    assert migrate(stack) == []  # the session stack was migrated by the fixture


def test_our_additions_exist(stack, pg_owner):
    # the design's tables and columns: tests/integration/test_design_contract.py; here what we add to them
    cols = lambda t: {r[0] for r in pg_owner.execute(  # noqa: E731
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = %s", [t])}
    assert {"kafka_key", "transaction_id"} <= cols("bronze.raw_transactions")
    assert {"rule_scores", "transaction_at", "ingested_at"} <= cols("bronze.raw_fraud_alerts")
    assert {"bronze_id", "reasons", "raw_payload", "kafka_offset"} <= cols("silver.rejected_transactions")
    assert {"total_amount", "last_seen_at", "is_inferred"} <= cols("silver.customers")
    assert {"version", "name", "checksum", "applied_at"} <= cols("ops.schema_migrations")
    assert {"pipeline", "last_id", "updated_at"} <= cols("ops.watermarks")
    assert {"id", "check_name", "table_name", "measured_value", "threshold", "passed", "details",
            "run_at"} <= cols("ops.quality_results")


def test_edited_migration_is_refused_and_a_failed_one_rolls_back(stack, fresh_db, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(stack.path(MIGRATIONS_DIR), folder)
    migrate(fresh_db, folder)
    (folder / "099_broken.sql").write_text("CREATE TABLE ops.half_done (x int);\nSELECT 1 / 0;\n")
    with pytest.raises(MigrationError, match="099_broken.sql failed and was rolled back"):
        migrate(fresh_db, folder)
    with connect(fresh_db) as c:
        assert c.execute("SELECT to_regclass('ops.half_done')").fetchone() == (None,)
        assert "099" not in applied_migrations(c)
    (folder / "099_broken.sql").unlink()
    first = sorted(folder.glob("00*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{first.name} was edited after it was applied"):
        migrate(fresh_db, folder)


def _insert_bronze(conn, offset):
    return conn.execute(
        "INSERT INTO bronze.raw_transactions (kafka_topic, kafka_partition, kafka_offset, kafka_key, transaction_id, "
        "event_timestamp, raw_payload) VALUES ('transactions.raw', 0, %s, 'c-1', 't-1', now(), "
        "'{\"transaction_id\": \"t-1\"}') ON CONFLICT DO NOTHING",
        [offset]).rowcount


def _denied(cfg, role, statement):
    with connect(cfg, role) as c:
        with pytest.raises(errors.InsufficientPrivilege):
            c.execute(statement)


def test_writer_inserts_into_bronze_only(stack):
    offset = uuid.uuid4().int % 10**12
    with connect(stack, "writer") as c:
        assert _insert_bronze(c, offset) == 1
        assert _insert_bronze(c, offset) == 0  # a replay of the same Kafka record is ignored
        c.execute("INSERT INTO bronze.raw_fraud_alerts (alert_type, transaction_id, customer_id, fraud_score, "
                  "rules_triggered, raw_payload) VALUES ('velocity', %s, 'c-1', 0.9, '[\"FR-002\"]', '{}') "
                  "ON CONFLICT DO NOTHING", [f"t-{offset}"])
    _denied(stack, "writer", "SELECT * FROM bronze.raw_transactions")
    _denied(stack, "writer", "SELECT * FROM gold.fact_transactions")
    _denied(stack, "writer", "SELECT * FROM silver.customers")
    _denied(stack, "writer", "INSERT INTO silver.products (product_id, name, category, price) VALUES ('p', 'p', 'x', 1)")
    _denied(stack, "writer", "CREATE TABLE bronze.sneaky (x int)")


def test_reader_reads_gold_and_what_the_reports_show_only(stack):
    with connect(stack, "reader") as c:
        c.execute("SELECT count(*) FROM gold.fact_transactions").fetchone()
        c.execute("SELECT transaction_id, amount, fraud_score FROM gold.fact_transactions").fetchall()
        c.execute("SELECT passed FROM ops.quality_results").fetchall()
        c.execute("SELECT is_fraud FROM ops.fraud_labels").fetchall()
        c.execute("SELECT ingested_at, is_valid, quality_checks FROM silver.clean_transactions").fetchall()
        c.execute("SELECT ingested_at, reasons FROM silver.rejected_transactions").fetchall()
    _denied(stack, "reader", "SELECT * FROM bronze.raw_transactions")
    _denied(stack, "reader", "SELECT count(*) FROM bronze.raw_fraud_alerts")
    _denied(stack, "reader", "SELECT * FROM silver.customers")
    _denied(stack, "reader", "SELECT customer_id FROM silver.clean_transactions")
    _denied(stack, "reader", "SELECT raw_payload FROM silver.rejected_transactions")
    for table in ("gold.fact_transactions", "gold.dim_customer"):  # exact customer coordinates are not for reports
        _denied(stack, "reader", f"SELECT latitude FROM {table}")
        _denied(stack, "reader", f"SELECT * FROM {table}")
    _denied(stack, "reader", "INSERT INTO bronze.raw_transactions (kafka_topic, kafka_partition, kafka_offset, "
                             "event_timestamp, raw_payload) VALUES ('x', 0, 0, now(), '{}')")
    _denied(stack, "reader", "DELETE FROM gold.fact_transactions")
    _denied(stack, "reader", "UPDATE ops.watermarks SET last_id = 0")


def test_transform_reads_bronze_and_writes_silver_and_gold(stack):
    with connect(stack, "transform") as c:
        c.execute("SELECT count(*) FROM bronze.raw_transactions").fetchone()
        c.execute("INSERT INTO silver.products (product_id, name, category, price) VALUES ('p-tx', 'Toy', 'toys', 9.90)")
        c.execute("UPDATE ops.watermarks SET updated_at = now() WHERE false")
        c.execute("INSERT INTO ops.quality_results (check_name, table_name, passed) VALUES ('probe', 'x', true)")
        c.rollback()
    _denied(stack, "transform", "INSERT INTO bronze.raw_transactions (kafka_topic, kafka_partition, kafka_offset, "
                                "event_timestamp, raw_payload) VALUES ('x', 0, 0, now(), '{}')")


def test_bronze_is_append_only_but_for_the_owner_and_prune(stack):
    offset = uuid.uuid4().int % 10**12
    with connect(stack, "writer") as c:
        assert _insert_bronze(c, offset) == 1
    for role in ("transform", "writer", "reader"):
        _denied(stack, role, "DELETE FROM bronze.raw_transactions")
        _denied(stack, role, "UPDATE bronze.raw_transactions SET transaction_id = 'x'")
        _denied(stack, role, "TRUNCATE bronze.raw_fraud_alerts")
    with connect(stack, "transform") as c:  # retention's one door: only rows silver has read, older than the period
        before = c.execute("SELECT count(*) FROM bronze.raw_transactions").fetchone()[0]
        assert c.execute("SELECT * FROM ops.prune_bronze(36500)").fetchone() == (0, 0)
        assert c.execute("SELECT count(*) FROM bronze.raw_transactions").fetchone()[0] == before
    _denied(stack, "reader", "SELECT * FROM ops.prune_bronze(0)")
    _denied(stack, "writer", "SELECT * FROM ops.prune_bronze(0)")


def test_public_cannot_connect_or_create_temporary_tables(stack, pg_owner):
    role = f"nobody_{uuid.uuid4().hex[:6]}"
    pg_owner.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        db = stack.postgres.database
        rows = pg_owner.execute("SELECT r, has_database_privilege(r, %s, 'CONNECT'), has_database_privilege(r, %s, "
                                "'TEMPORARY') FROM unnest(%s::text[]) r",
                                [db, db, [role, *(getattr(stack.postgres.roles, k) for k in ("writer", "transform", "reader"))]]).fetchall()
        assert {r: (conn, temp) for r, conn, temp in rows} == {
            role: (False, False), stack.postgres.roles.writer: (True, False),
            stack.postgres.roles.transform: (True, True), stack.postgres.roles.reader: (True, False)}
    finally:
        pg_owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_later_tables_get_the_grants_automatically(stack, pg_owner):
    name = f"later_{uuid.uuid4().hex[:6]}"
    pg_owner.execute(sql.SQL("CREATE TABLE gold.{} (x int)").format(sql.Identifier(name)))
    try:
        with connect(stack, "reader") as c:
            c.execute(sql.SQL("SELECT * FROM gold.{}").format(sql.Identifier(name)))
        with connect(stack, "transform") as c:
            c.execute(sql.SQL("INSERT INTO gold.{} VALUES (1)").format(sql.Identifier(name)))
        _denied(stack, "writer", sql.SQL("SELECT * FROM gold.{}").format(sql.Identifier(name)))
    finally:
        pg_owner.execute(sql.SQL("DROP TABLE gold.{}").format(sql.Identifier(name)))


def test_roles_log_in_with_their_own_passwords_only(stack):
    pw = passwords(stack)
    assert len(set(pw.values())) == 4
    with psycopg.connect(dsn_for(stack, "reader")) as c:
        assert c.execute("SELECT current_user").fetchone() == (stack.postgres.roles.reader,)
    wrong = dsn_for(stack, "reader").replace(pw["reader"], pw["writer"])
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)
    for m in discover_migrations(stack.path(MIGRATIONS_DIR)):
        assert not any(p in m.sql for p in pw.values())


def test_seed_loads_reference_data_idempotently(stack):
    from streamflow.warehouse import seed
    from streamflow.world import configured_world

    world = configured_world(stack)
    counts = seed(stack, world)
    g = stack.generator
    assert counts == {"silver.customers": g.customers, "silver.stores": g.stores, "silver.products": g.products}
    with connect(stack, "transform") as c:
        before = c.execute("SELECT count(*), max(updated_at) FROM silver.customers").fetchone()
        named = c.execute("SELECT count(*) FROM silver.customers WHERE name <> 'unknown' AND city IS NOT NULL "
                          "AND email LIKE '%@example.%' AND NOT is_inferred").fetchone()[0]
        described = c.execute("SELECT count(*) FILTER (WHERE city IS NOT NULL AND category IS NOT NULL) "
                               "FROM silver.stores").fetchone()[0]
    assert (named, described) == (g.customers, g.stores)  # the design's descriptive columns, from the generator
    assert seed(stack, world) == counts
    with connect(stack, "transform") as c:
        assert c.execute("SELECT count(*), max(updated_at) FROM silver.customers").fetchone() == before
        assert c.execute("SELECT count(*) FROM silver.stores").fetchone() == (g.stores,)
