"""Production's database owner is not a superuser (issue 18): CloudNativePG gives `streamflow_owner` CREATEROLE and
ownership of the database, no more. The migrations and `streamflow migrate` must work with exactly that: create the
three roles (PostgreSQL 16+ gives their creator ADMIN on them), set their passwords and session settings, grant,
and create the SECURITY DEFINER retention function. Checked on a fresh embedded server, where the roles do not exist
yet, as a CREATEROLE NOSUPERUSER owner of its own database."""

import os

import pytest

from streamflow.config import load_config
from streamflow.local.postgres import start_server, stop_server
from streamflow.local.proc import free_port
from streamflow.warehouse import connect, discover_migrations, migrate

pytestmark = pytest.mark.integration


def test_migrations_need_no_superuser(tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k not in ("STREAMFLOW_PG_DSN", "STREAMFLOW__POSTGRES__DSN")}
    env |= {"STREAMFLOW__PATHS__RUN_DIR": str(tmp_path / "run"), "STREAMFLOW__POSTGRES__PORT": str(free_port())}
    for k in ("STREAMFLOW_PG_DSN", "STREAMFLOW__POSTGRES__DSN", "STREAMFLOW_PG_OWNER_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    cfg = load_config(environ=env)
    start_server(cfg)  # initdb's superuser; used only to make the owner production has
    try:
        with connect(cfg, "owner", autocommit=True) as c:
            c.execute("CREATE ROLE wh_owner LOGIN CREATEROLE NOSUPERUSER NOCREATEDB PASSWORD 'owner-pw'")
            c.execute("CREATE DATABASE wh OWNER wh_owner")
        prod = load_config(environ=env | {"STREAMFLOW__POSTGRES__SUPERUSER": "wh_owner", "STREAMFLOW__POSTGRES__DATABASE": "wh"})
        monkeypatch.setenv("STREAMFLOW_PG_OWNER_PASSWORD", "owner-pw")
        applied = migrate(prod)
        assert applied == [m.version for m in discover_migrations(prod.path("sql/migrations"))]
        with connect(prod, "owner") as c:
            assert c.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone() == (False, True)
        with connect(prod, "transform") as c:  # its password and session settings were set by the owner
            assert c.execute("SHOW work_mem").fetchone() == ("128MB",)
            assert c.execute("SELECT has_table_privilege('bronze.raw_transactions', 'DELETE')").fetchone() == (False,)
        with connect(prod, "writer") as c:
            assert c.execute("SELECT has_table_privilege('bronze.raw_transactions', 'INSERT')").fetchone() == (True,)
    finally:
        monkeypatch.delenv("STREAMFLOW_PG_OWNER_PASSWORD", raising=False)
        stop_server(cfg)
