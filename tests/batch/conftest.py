"""Fixtures for the batch layer: a fresh migrated and seeded database on the isolated test server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from batch_helpers import SEED
from psycopg import sql

from streamflow.config import Settings
from streamflow.warehouse import dsn_for, migrate, seed


@pytest.fixture
def warehouse(stack: Settings, pg_owner) -> Iterator[Settings]:
    "Settings pointing at a new database on the test server: migrated, reference data seeded (dropped afterwards)."
    name = f"b_{uuid.uuid4().hex[:8]}"
    pg_owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    cfg = stack.model_copy(deep=True)
    cfg.postgres.database = name
    migrate(cfg)
    seed(cfg, SEED)
    yield cfg
    pg_owner.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def transform_dsn(warehouse: Settings) -> str:
    return dsn_for(warehouse, "transform")
