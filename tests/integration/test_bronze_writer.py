"""The bronze writer's fallback on the real PostgreSQL: when the database refuses one row of a batch, the batch is
retried row by row, the good rows are inserted and the refused one is handed back with the reason, and the
transaction processor turns it into a dead letter carrying the event's original bytes and lineage."""

from __future__ import annotations

import json

import psycopg

from streamflow.config import Settings
from streamflow.jobs.transaction_processor import refused_dead_letter, validate
from streamflow.messages import dlq_original
from streamflow.pg_sink import write_rows
from streamflow.rows import BRONZE_TRANSACTION, BRONZE_TRANSACTION_SQL
from streamflow.warehouse import connect, dsn_for

TOPIC = "transactions.raw"


def _event(i: int) -> bytes:
    return json.dumps({"transaction_id": f"t-bw-{i}", "customer_id": "c-000001", "store_id": "s-0001",
                       "product_id": "p-00001", "amount": "10.50", "currency": "BRL", "payment_method": "boleto",
                       "installments": 1, "latitude": -23.5, "longitude": -46.6,
                       "timestamp": "2026-01-06T10:00:00-03:00"}).encode()


def _rows(n: int, keys: dict[int, bytes] | None = None) -> list[tuple]:
    "Bronze rows as the transaction processor builds them (`validate`), offsets 0..n-1; `keys` overrides Kafka keys."
    out = []
    for i in range(n):
        row, dead = validate(_event(i), TOPIC, 0, i, None, (keys or {}).get(i, b"c-000001"))
        assert dead is None and row is not None
        out.append(row)
    return out


def _writer(cfg: Settings) -> str:
    return dsn_for(cfg, "writer")


def _bronze(cfg: Settings) -> list[tuple]:
    with connect(cfg, "owner") as conn:
        return conn.execute("SELECT kafka_offset, kafka_key, transaction_id FROM bronze.raw_transactions "
                            "ORDER BY kafka_offset").fetchall()


def test_a_batch_with_a_row_the_database_refuses_keeps_the_good_rows(migrated_db):
    # A NUL byte in the Kafka key: the event itself is valid (validate passes it), but PostgreSQL text cannot hold NUL
    rows = _rows(6, keys={3: b"c-0\x00"})
    with psycopg.connect(_writer(migrated_db), autocommit=True) as conn:
        inserted, refused = write_rows(conn, BRONZE_TRANSACTION_SQL, rows, len(BRONZE_TRANSACTION))
    assert inserted == 5
    assert [r for r, _ in refused] == [rows[3]]
    # the arrays go in binary (`rows.insert_sql`), so the server sees the NUL and refuses it with its own words
    assert refused[0][1].startswith("database refused the row (22021)") and "0x00" in refused[0][1]
    assert [o for o, _, _ in _bronze(migrated_db)] == [0, 1, 2, 4, 5]  # every good row, nothing of the bad one

    dlq = json.loads(refused_dead_letter(*refused[0]))  # what the job sends to the dead-letter topic
    assert dlq_original(dlq) == _event(3)  # the original event, byte for byte
    assert dlq["source"] == {"topic": TOPIC, "partition": 0, "offset": 3}
    assert "0x00" in dlq["reason"]


def test_a_server_side_refusal_is_retried_row_by_row_and_a_replay_adds_nothing(migrated_db):
    rows = _rows(4)
    bad = list(rows[1])
    bad[5] = "2026-02-30T10:00:00+00:00"  # the server refuses this date (22008): out of the column type's range
    rows[1] = tuple(bad)
    dsn = _writer(migrated_db)
    with psycopg.connect(dsn, autocommit=True) as conn:
        inserted, refused = write_rows(conn, BRONZE_TRANSACTION_SQL, rows, len(BRONZE_TRANSACTION))
        assert (inserted, [r for r, _ in refused]) == (3, [rows[1]])
        assert refused[0][1].startswith("database refused the row (22008)")
        # a replay of the same batch (a restart from the checkpoint) inserts nothing new and refuses the same row
        again, refused_again = write_rows(conn, BRONZE_TRANSACTION_SQL, rows, len(BRONZE_TRANSACTION))
    assert (again, [r for r, _ in refused_again]) == (0, [rows[1]])
    assert [o for o, _, _ in _bronze(migrated_db)] == [0, 2, 3]


def test_a_clean_batch_is_one_statement(migrated_db):
    rows = _rows(50)
    with psycopg.connect(_writer(migrated_db), autocommit=True) as conn:
        assert write_rows(conn, BRONZE_TRANSACTION_SQL, rows, len(BRONZE_TRANSACTION)) == (50, [])
    assert len(_bronze(migrated_db)) == 50


def test_a_number_beyond_numeric_passes_the_model_and_is_dead_lettered_with_the_servers_words(migrated_db):
    # an ignored field the model never reads, but jsonb must store: PostgreSQL's numeric stops at about 1e131072
    raw = _event(0)[:-1] + b',"note":1e1000000}'
    row, dead = validate(raw, TOPIC, 0, 0, None, b"c-000001")
    assert dead is None and row is not None, dead  # the model accepts it: it ignores the field
    with psycopg.connect(_writer(migrated_db), autocommit=True) as conn:
        inserted, refused = write_rows(conn, BRONZE_TRANSACTION_SQL, [row, _rows(2)[1]], len(BRONZE_TRANSACTION))
    assert inserted == 1 and len(refused) == 1
    assert refused[0][1].startswith("database refused the row (22003)"), refused[0][1]
    assert dlq_original(json.loads(refused_dead_letter(*refused[0]))) == raw
