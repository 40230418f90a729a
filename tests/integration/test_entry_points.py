"""`make lab` and `make airflow` from a fresh shell: no activated venv, nothing on PATH but the system's.

Each is started as a newcomer would start it, in its own process group, and must answer at the URL it prints:
JupyterLab's server API, and Airflow's API listing the five DAGs (with the admin password it says where to find);
every socket Airflow's components listen on is on loopback (issue 18).
Whoever runs the tests (root on these machines and in many containers) is the user being checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streamflow.local.proc import free_port, stop_group

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FRESH_SHELL = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
DAGS = {"bronze_to_silver", "silver_to_gold", "data_quality", "maintenance", "fraud_report"}


def _http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=5) as r:
        return r.read()


@contextmanager
def _make(target: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    "`make <target>` in the background, stopped (with everything it started) on the way out."
    with open(log, "wb") as out:
        p = subprocess.Popen(["make", "--no-print-directory", target], cwd=REPO, env=env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield p
        finally:
            stop_group(p.pid, timeout=30)  # make and everything it started
            p.wait(10)


def _until(check: Callable[[], object], timeout: float, p: subprocess.Popen, log: Path, what: str):
    "The first truthy value of `check` (errors count as not yet); fails with the log's tail if `make` exits first."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            pytest.fail(f"make exited ({p.returncode}) before {what}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if v := check():
                return v
        except Exception:  # noqa: BLE001  not up yet
            pass
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _listening(pid: int) -> set[tuple[str, int]]:
    "(address, port) of every listening TCP socket of process `pid` and its descendants."
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    out = set()
    for proc in procs:
        try:
            out |= {(c.laddr.ip, c.laddr.port) for c in proc.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return out


def test_make_lab_answers_at_the_url_it_prints(tmp_path):
    port = free_port()
    env = {**FRESH_SHELL, "LAB_PORT": str(port), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = tmp_path / "lab.log"
    with _make("lab", env, log) as p:
        version = _until(lambda: json.loads(_http(f"http://127.0.0.1:{port}/api"))["version"], 180, p, log,
                         "JupyterLab server answering")
        _until(lambda: f"http://127.0.0.1:{port}/lab?token=" in log.read_text(errors="replace"), 30, p, log,
               "the URL with its token in the output")
    assert version
    assert f"JupyterLab: open the http://127.0.0.1:{port}/lab" in log.read_text()


def test_make_airflow_answers_and_lists_the_five_dags(tmp_path):
    port, home = free_port(), tmp_path / "airflow"
    env = {**FRESH_SHELL, "STREAMFLOW__AIRFLOW__HOME": str(home), "STREAMFLOW__AIRFLOW__API_PORT": str(port),
           "STREAMFLOW__PATHS__RUN_DIR": str(tmp_path / "run")}
    log, url = tmp_path / "airflow.log", f"http://127.0.0.1:{port}"
    passwords = home / "simple_auth_manager_passwords.json.generated"
    with _make("airflow", env, log) as p:
        _until(lambda: json.loads(_http(f"{url}/api/v2/monitor/health")), 300, p, log, "Airflow's API answering")
        user, password = _until(lambda: next(iter(json.loads(passwords.read_text()).items())), 60, p, log,
                                "the admin password file")
        body = json.dumps({"username": user, "password": password}).encode()
        token = json.loads(_http(f"{url}/auth/token", body, {"Content-Type": "application/json"}))["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        dags = _until(lambda: (ids := {d["dag_id"] for d in json.loads(_http(f"{url}/api/v2/dags", None, auth))["dags"]})
                      >= DAGS and ids, 180, p, log, "the five DAGs parsed")
        errors = json.loads(_http(f"{url}/api/v2/importErrors", None, auth))["total_entries"]
        listening = _listening(p.pid)  # every component is up now: the API answered with parsed DAGs
    assert dags == DAGS and errors == 0
    assert listening and all(ip == "127.0.0.1" for ip, _ in listening), f"Airflow listens beyond loopback: {listening}"
    assert ("127.0.0.1", port) in listening
    printed = log.read_text()
    assert f"Airflow UI: {url}" in printed and str(passwords) in printed  # where to go, and where the password is
    assert "FileNotFoundError" not in printed  # its components found `airflow` without an activated venv
