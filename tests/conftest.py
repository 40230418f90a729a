"""Shared fixtures: an isolated local stack (the real Kafka broker and PostgreSQL server) for integration tests.

The stack runs in its own temporary run folder on free ports, so it never touches a developer's stack on the
default ports. While it runs, the environment points `load_config()` at it (run dir, ports), so code under test
that loads the config itself (DAGs, CLI, subprocesses) finds the isolated stack too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from streamflow.config import Settings, load_config
from streamflow.local.proc import free_ports

INTEGRATION_DIR = Path(__file__).parent / "integration"


# the longest test files, longest first (`pytest --durations=0`, docs/BENCHMARKS.md "Test times"): `make test` runs
# the suite on two xdist workers, one file per work unit in collection order, so the long poles start first and the
# workers finish together instead of one idling while the other runs the demo
LONG_POLES = ("streaming/test_demo.py", "chaos/test_faults.py", "test_experiments.py", "batch/test_dags.py",
              "chaos/test_hostile.py", "test_bench.py", "streaming/test_streaming_jobs.py")


def pytest_collection_modifyitems(config, items):
    "Everything under tests/integration is marked `integration`; the long poles run first (a stable sort)."
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
    here = Path(__file__).parent

    def rank(item) -> int:
        rel = Path(str(item.fspath)).relative_to(here).as_posix()
        return LONG_POLES.index(rel) if rel in LONG_POLES else len(LONG_POLES)
    items.sort(key=rank)


def _reap_stale_stacks() -> None:
    "Stop and remove test stacks left behind by a pytest run that was killed before its teardown."
    import psutil

    from streamflow.local.flink import stop_cluster
    from streamflow.local.kafka import stop_broker
    from streamflow.local.postgres import stop_server

    for d in Path(tempfile.gettempdir()).glob(f"{STACK_PREFIX}*"):
        try:
            owner = int((d / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(owner):
            continue
        cfg = load_config(environ={"STREAMFLOW__PATHS__RUN_DIR": str(d)})
        stop_cluster(cfg)  # found by the run folder on their command lines, whatever their ports
        stop_broker(cfg)
        stop_server(cfg)
        shutil.rmtree(d, ignore_errors=True)


STACK_PREFIX = "streamflow-test-"
TEST_JIT = "-XX:TieredStopAtLevel=1"


@contextmanager
def isolated_stack() -> Iterator[Settings]:
    "A running, migrated, isolated stack (Kafka + embedded PostgreSQL, its own ports and folder); removed afterwards."
    from streamflow.services import down, up
    from streamflow.warehouse import migrate

    _reap_stale_stacks()
    run = Path(tempfile.mkdtemp(prefix=STACK_PREFIX))
    (run / "owner.pid").write_text(str(os.getpid()))
    # below the kernel's ephemeral range: no client connection can take a port before its server binds it; one pick
    # of consecutive ports, so the metrics block (metrics_port + 0, 1, 2) cannot overlap the others
    metrics_n = 1 + load_config().flink.taskmanagers  # flink_runtime.metrics_ports: the JobManager's, one per TaskManager
    pg_port, kafka_port, controller_port, rest_port, rpc_port, metrics_port, *_ = free_ports(5 + metrics_n, consecutive=True)
    mp = pytest.MonkeyPatch()  # the job processes read their settings from the environment: point it at this stack
    for k in ("STREAMFLOW_PG_DSN", "STREAMFLOW__POSTGRES__DSN"):  # always the embedded server, never a shared one
        mp.delenv(k, raising=False)
    mp.setenv("STREAMFLOW__PATHS__RUN_DIR", str(run))
    mp.setenv("STREAMFLOW__POSTGRES__PORT", str(pg_port))
    mp.setenv("STREAMFLOW_KAFKA_BOOTSTRAP", f"127.0.0.1:{kafka_port}")
    mp.setenv("STREAMFLOW__KAFKA__CONTROLLER_PORT", str(controller_port))
    mp.setenv("STREAMFLOW__FLINK__METRICS_PORT", str(metrics_port))  # a running dev stack keeps the defaults
    mp.setenv("STREAMFLOW__FLINK__REST_PORT", str(rest_port))
    mp.setenv("STREAMFLOW__FLINK__RPC_PORT", str(rpc_port))
    # the tests submit jobs about forty times and stream a few thousand events each: the JVM's quick (C1-only)
    # compiler starts the cluster and the submitting driver faster; the jobs' behaviour does not depend on the JIT
    jvm = load_config().flink.jvm_args
    mp.setenv("STREAMFLOW__FLINK__JVM_ARGS", jvm if TEST_JIT in jvm else f"{jvm} {TEST_JIT}")
    cfg = load_config()
    try:
        up(cfg, with_flink=False)  # `jobs start` starts the Flink cluster for the tests that run jobs
        migrate(cfg)
        yield cfg
    finally:
        try:
            down(cfg)
        finally:
            mp.undo()  # back to the enclosing stack's environment, if any
            if os.environ.get("STREAMFLOW_KEEP_TEST_STACK") != "1":
                shutil.rmtree(run, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    "Settings of a running, migrated, isolated stack (Kafka + embedded PostgreSQL); stopped and removed at the end."
    with isolated_stack() as cfg:
        yield cfg


@pytest.fixture
def own_stack(stack: Settings) -> Iterator[Settings]:
    "A second isolated stack, for a test whose topics, offsets and tables must not meet the session stack's."
    with isolated_stack() as cfg:
        yield cfg


@pytest.fixture
def pg_owner(stack: Settings) -> Iterator[psycopg.Connection]:
    "An autocommit connection to the isolated warehouse as the owner (superuser)."
    from streamflow.warehouse import connect

    with connect(stack, "owner", autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_db(stack: Settings, pg_owner: psycopg.Connection) -> Iterator[Settings]:
    "Settings pointing at a new, empty database on the isolated server (dropped afterwards)."
    name = f"t_{uuid.uuid4().hex[:8]}"
    pg_owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    cfg = stack.model_copy(deep=True)
    cfg.postgres.database = name
    yield cfg
    pg_owner.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def migrated_db(fresh_db: Settings) -> Settings:
    "`fresh_db` with every migration applied: the warehouse's schemas, tables and roles, no data."
    from streamflow.warehouse import migrate

    migrate(fresh_db)
    return fresh_db
