"""Run a throwaway ``airflow standalone`` against the sandbox, and talk to its REST API.

Tests that need the real scheduler, triggerer and API server, and the benchmarks, start one with its own
home, database and port, so they never touch the demo's Airflow.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.aio import free_port
from sandbox.airflow_settings import execution_api_env, sqlite_url
from sandbox.layout import REPO_ROOT

START_TIMEOUT = 240.0


REQUEST_TIMEOUT_SECONDS = 120


@dataclass
class AirflowServer:
    """A running standalone Airflow, its process and a logged-in REST client."""

    base_url: str
    password: str
    home: Path
    process: subprocess.Popen[bytes] | None = None
    token: str = ""
    log_path: Path = field(default_factory=Path)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        bearer = self.token if token is None else token
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        try:
            # generous: an API server on SQLite, sharing two cores with a busy scheduler, can take tens of
            # seconds to answer; slowness is not what a test of the API asserts
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                raw, status = response.read().decode(), response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read().decode(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def login(self) -> str:
        status, body = self.request(
            "POST", "/auth/token", {"username": "admin", "password": self.password}, ""
        )
        if status != 201:
            raise RuntimeError(f"login failed: {status} {body}")
        self.token = body["access_token"]
        return self.token

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            except TimeoutError:  # a busy API server (SQLite locked, two cores) answers the next poll
                continue
            if status == 200 and run["state"] in {"success", "failed"}:
                return dict(run)
            time.sleep(2)
        raise TimeoutError(f"{dag_id}/{run_id} did not finish in {timeout}s")

    def ready(self, dag_id: str) -> bool:
        try:
            status, health = self.request("GET", "/api/v2/monitor/health", token="")
        except OSError:
            return False
        parts = ("scheduler", "triggerer", "dag_processor")
        if status != 200 or any(health.get(part, {}).get("status") != "healthy" for part in parts):
            return False
        if not self.token:
            self.login()
        return self.request("GET", f"/api/v2/dags/{dag_id}")[0] == 200

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 300) -> None:
        """Wait until the DAG processor has served all of ``dag_ids``: callers never race its first parse."""
        deadline = time.monotonic() + timeout
        served: set[str] = set()
        while time.monotonic() < deadline:
            status, body = self.request("GET", "/api/v2/dags?limit=200")
            served = {dag["dag_id"] for dag in body.get("dags", [])} if status == 200 else set()
            if dag_ids <= served:
                return
            time.sleep(2)
        raise RuntimeError(f"DAGs not served after {timeout:.0f} s: {sorted(dag_ids - served)}")

    def unpause(self, *dag_ids: str, timeout: float = 300) -> None:
        """Unpause ``dag_ids`` once the DAG processor has served them (it parses the files one by one)."""
        self.wait_for_dags(set(dag_ids), timeout)
        for dag_id in dag_ids:
            status, body = self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            if status != 200:
                raise RuntimeError(f"could not unpause {dag_id}: {status} {body}")

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after a minute."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def start_standalone(
    home: Path,
    *,
    dags_folder: Path,
    wait_for_dag: str,
    parallelism: int = 2,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> AirflowServer:
    """Start ``airflow standalone`` in its own process group and wait until ``wait_for_dag`` is served.

    ``port`` defaults to a free one; the session's server takes its sandbox's ``airflow`` port, where that
    sandbox's Alertmanager sends its notifications.
    """
    port = port or free_port()
    password = secrets.token_urlsafe(12)
    home.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlite_url(str(home / "airflow.db")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # DAG files do not change while a test or a benchmark runs: re-parsing all of them every 30 s (the
        # default) costs most of a core here and starves the API server and the tasks under test
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        **execution_api_env(),
        "NOVACRON_REPORTS_URL": f"file://{home / 'runbook_reports'}",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]),
        # standalone starts its components as `airflow <command>`: the venv's bin must come first on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **(extra_env or {}),
    }
    log_path = home / "standalone.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = AirflowServer(f"http://127.0.0.1:{port}", password, home, process, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while not server.ready(wait_for_dag):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"airflow standalone did not become ready:\n{log_path.read_text()[-4000:]}")
        time.sleep(2)
    return server
