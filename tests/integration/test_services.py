"""The local stack as the CLI sees it: status rows, idempotent up, shell exports."""

import shlex
import stat

import psycopg
import pytest

from streamflow.local.credentials import secrets_path
from streamflow.local.kafka import kafka_paths
from streamflow.local.proc import port_open
from streamflow.services import env_exports, status, up


def test_status_reports_the_three_services_healthy(stack):
    up(stack)  # the test stack starts Flink only when jobs start; `services up` starts it too
    rows = {r["name"]: r for r in status(stack)}
    assert set(rows) == {"postgres", "kafka", "flink"}
    assert rows["postgres"]["port"] == stack.postgres.port
    assert rows["kafka"]["port"] == int(stack.kafka.bootstrap.rsplit(":", 1)[1])
    assert rows["flink"]["port"] == stack.flink.rest_port and rows["flink"]["ui"] == f"http://127.0.0.1:{stack.flink.rest_port}"
    for r in rows.values():
        assert r["healthy"] is True and isinstance(r["pid"], int) and r["pid"] > 0
        assert r["log"].startswith(str(stack.path(stack.paths.run_dir)))


def test_up_is_idempotent(stack):
    up(stack)
    before = {r["name"]: r["pid"] for r in status(stack)}
    after = {r["name"]: r["pid"] for r in up(stack)}
    assert after == before  # nothing restarted


def test_services_listen_on_loopback_only(stack):
    import psutil

    ports = {stack.postgres.port, int(stack.kafka.bootstrap.rsplit(":", 1)[1]), stack.kafka.controller_port}
    listening = [c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
    assert {c.laddr.port for c in listening} == ports
    assert all(c.laddr.ip == "127.0.0.1" for c in listening)
    assert all(port_open("127.0.0.1", p) for p in ports)


def test_env_exports_point_at_the_running_stack(stack):
    env = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
               for line in env_exports(stack).splitlines() if line.startswith("export "))
    assert env["STREAMFLOW_KAFKA_BOOTSTRAP"] == stack.kafka.bootstrap
    with psycopg.connect(env["STREAMFLOW_PG_DSN"]) as c:
        assert c.execute("SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            stack.postgres.database, True)


def test_generated_secrets_are_private(stack):
    p = secrets_path(stack)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert "STREAMFLOW_PG_WRITER_PASSWORD=" in p.read_text() and "STREAMFLOW_KAFKA_DETECTOR_PASSWORD=" in p.read_text()
    props = kafka_paths(stack)["properties"]  # the broker's config holds the operator's and the controller's passwords
    assert stat.S_IMODE(props.stat().st_mode) == 0o600


def test_a_changed_owner_password_is_a_clear_error(stack, monkeypatch):
    from streamflow.local.postgres import start_server
    from streamflow.local.proc import ServiceError

    monkeypatch.setenv("STREAMFLOW_PG_OWNER_PASSWORD", "not-the-password-it-was-initialised-with")
    with pytest.raises(ServiceError, match="refused the owner's password"):
        start_server(stack, timeout=20)


def test_an_external_server_is_used_not_started(stack):
    from streamflow.local.postgres import owner_dsn, start_server
    from streamflow.local.proc import ServiceError
    from streamflow.warehouse import connect, migrate

    ext = stack.model_copy(deep=True)
    ext.postgres.dsn = owner_dsn(stack)  # what STREAMFLOW_PG_DSN sets
    ext.postgres.port = 1  # the embedded server's port is not used at all
    pg = next(r for r in status(ext) if r["name"] == "postgres")
    assert pg["external"] is True and pg["pid"] is None and pg["healthy"] is True and pg["port"] == stack.postgres.port
    with pytest.raises(ServiceError, match="STREAMFLOW_PG_DSN is set"):
        start_server(ext)
    assert migrate(ext) == []
    with connect(ext, "reader") as c:
        assert c.execute("SELECT current_user").fetchone() == (stack.postgres.roles.reader,)
