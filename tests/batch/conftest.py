"""Fixtures for the batch layer: a fresh migrated and seeded database on the isolated test server."""

from __future__ import annotations

import pytest
from batch_helpers import SEED

from streamflow.config import Settings
from streamflow.warehouse import dsn_for, seed
from streamflow.world import configured_world


@pytest.fixture
def warehouse(migrated_db: Settings) -> Settings:
    "Settings pointing at a new migrated database on the test server, reference data seeded (dropped afterwards)."
    seed(migrated_db, configured_world(migrated_db, SEED))
    return migrated_db


@pytest.fixture
def transform_dsn(warehouse: Settings) -> str:
    return dsn_for(warehouse, "transform")
