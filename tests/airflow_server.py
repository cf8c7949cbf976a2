"""pytest plugin: a real ``airflow standalone`` for tests through the REST API, the API server and
the real scheduler, triggerer and dag-processor (``pytest_plugins = ["airflow_server"]``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.aio import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 240


@dataclass
class AirflowServer:
    """A running standalone Airflow and a logged-in REST client for it."""

    base_url: str
    password: str
    home: Path
    token: str = ""

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        bearer = self.token if token is None else token
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def login(self) -> str:
        status, body = self.request(
            "POST", "/auth/token", {"username": "admin", "password": self.password}, token=""
        )
        assert status == 201, body
        self.token = body["access_token"]
        return self.token

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if status == 200 and run["state"] in {"success", "failed"}:
                return dict(run)
            time.sleep(2)
        raise AssertionError(f"{dag_id}/{run_id} did not finish in {timeout}s")


def _ready(server: AirflowServer, dag_id: str) -> bool:
    try:
        status, health = server.request("GET", "/api/v2/monitor/health", token="")
    except OSError:
        return False
    if status != 200:
        return False
    parts = ("scheduler", "triggerer", "dag_processor")
    if any(health.get(part, {}).get("status") != "healthy" for part in parts):
        return False
    if not server.token:
        server.login()
    return server.request("GET", f"/api/v2/dags/{dag_id}")[0] == 200


@pytest.fixture(scope="session")
def airflow_server(sandbox) -> Iterator[AirflowServer]:
    """Start ``airflow standalone`` against the sandbox; stop its whole process group at the end."""
    home = Path(tempfile.mkdtemp(prefix="novacron-standalone-"))
    port = free_port()
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "NOVACRON_REPORTS_URL": f"file://{home / 'runbook_reports'}",
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]),
        # standalone starts its components as `airflow <command>`: the venv's bin must come first on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    log = (home / "standalone.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "standalone"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = AirflowServer(f"http://127.0.0.1:{port}", password, home)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(server, "runbook_review"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (home / "standalone.log").read_text()[-4000:]
                pytest.fail(f"airflow standalone did not become ready:\n{tail}")
            time.sleep(2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()
