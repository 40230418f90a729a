"""Fault-injection tests: every test in tests/chaos is marked `chaos` (run with `pytest -m chaos tests/chaos`).

Each test gets a clean slice of the session's isolated stack (`chaos` fixture): jobs stopped, bronze emptied, the
jobs' consumer groups moved to the end of `transactions.raw`, checkpoints removed, and the topic offsets where the
test starts recorded, so records from earlier tests never count. Whatever the test broke (broker, server, jobs) is
brought back up afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_helpers import Slice, reset, restore

from streamflow.config import Settings

CHAOS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    "Everything under tests/chaos is marked `chaos` only (so `-m integration` / `-m streaming` runs never include it)."
    for item in items:
        if CHAOS_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chaos)


@pytest.fixture
def chaos(stack: Settings) -> Iterator[Slice]:
    "A clean slice of the isolated stack for one fault test; the stack is repaired and the jobs stopped afterwards."
    s = reset(stack)
    try:
        yield s
    finally:
        restore(stack)
