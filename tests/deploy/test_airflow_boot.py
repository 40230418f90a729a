"""The production Airflow's api-server boots with the configuration the chart values give it (issue 18).

The chart renders `config:` (its defaults merged with deploy/k8s/airflow/values.yaml) into airflow.cfg for every
component. This test builds that configuration for the api-server as `AIRFLOW__SECTION__KEY` variables and replaces
only what exists in the cluster alone: values the chart computes with templates, the image's paths (DAGs folder,
the emptyDir the init container fills with the admin's passwords file), the metadata database (SQLite here) and
the keys from Secrets (generated here). Then it runs this venv's Airflow, the version the image pins, and checks
what a user meets: the auth manager the values choose is installed, the health endpoint answers, an API call
without a token is refused, a wrong password gets no token, and the password from the Secret gets one that works.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from streamflow.local.proc import free_port, stop_group

pytestmark = [pytest.mark.deploy, pytest.mark.airflow]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "schemas" / "airflow-chart" / "1.21.0" / "values.yaml"
VALUES = ROOT / "deploy" / "k8s" / "airflow" / "values.yaml"
sys.path.insert(0, str(ROOT / "deploy" / "validate"))
from checks.helm import deep_merge  # noqa: E402


def chart_config() -> dict[str, dict]:
    "The `config:` the chart renders into airflow.cfg: its defaults with our values merged over them."
    return deep_merge(yaml.safe_load(CHART.read_text()), yaml.safe_load(VALUES.read_text()))["config"]


def api_server_env(config: dict[str, dict], home: Path, port: int, passwords_file: Path) -> dict[str, str]:
    "The api-server's configuration as environment variables, with the cluster-only parts made local."
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    for section, options in config.items():
        for key, value in (options or {}).items():
            if "{{" not in str(value):  # computed by the chart's templates: not ours to check
                env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = str(value)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    })
    return env


def _call(url: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError:  # not listening yet
        return 0, {}


def test_the_auth_manager_the_values_choose_is_installed():
    core = chart_config()["core"]
    module = core["auth_manager"].rpartition(".")[0]
    assert importlib.util.find_spec(module.split(".")[0]) and importlib.util.find_spec(module), \
        f"auth_manager {core['auth_manager']} is not installed: the api-server would not start"
    assert core.get("simple_auth_manager_all_admins", "False") == "False"  # nobody is admin without a password


@pytest.mark.timeout(600)
def test_api_server_boots_with_the_chart_config_and_refuses_the_unauthenticated(tmp_path):
    config = chart_config()
    users = dict(u.split(":")[:2] for u in config["core"]["simple_auth_manager_users"].split(","))
    password = secrets.token_urlsafe(24)  # what terraform writes into Secret airflow-admin-password
    passwords_file = tmp_path / "auth" / "passwords.json"  # the emptyDir the init container fills
    passwords_file.parent.mkdir()
    passwords_file.write_text(json.dumps({"admin": password}))
    port = free_port()
    env = api_server_env(config, tmp_path / "home", port, passwords_file)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = tmp_path / "api-server.log"
    with open(log, "wb") as out:
        p = subprocess.Popen([airflow, "api-server", "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while _call(f"{base}/api/v2/monitor/health")[0] != 200:
            assert p.poll() is None, f"the api-server exited ({p.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no health answer in 240 s:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        assert users == {"admin": "admin"}
        assert _call(f"{base}/api/v2/dags")[0] == 401  # no token
        assert _call(f"{base}/auth/token", {"username": "admin", "password": "wrong"})[0] == 401
        status, body = _call(f"{base}/auth/token", {"username": "admin", "password": password})
        assert status == 201 and body.get("access_token")
        assert _call(f"{base}/api/v2/dags", token=body["access_token"])[0] == 200
        assert json.loads(passwords_file.read_text()) == {"admin": password}  # used as given, nothing generated
    finally:
        stop_group(p.pid, timeout=30)  # the api-server and its workers
        p.wait(10)
