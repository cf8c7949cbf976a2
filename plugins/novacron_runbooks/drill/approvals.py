"""Answer the approvals a drilled DR runbook asks for, through Airflow's public HITL API, as the drill's user.

A DR runbook that asks a person (data corruption: repair rows, cut over or abort) would otherwise sit
until its timeout and take the safe default, so the drill would measure the wait, not the recovery. The
drill answers the way a person does, with ``PATCH .../taskInstances/{task}/{map_index}/hitlDetails``,
logged in as the user of the connection ``novacron_airflow_api`` (an ``http`` connection: host, port,
login, password), so the child's report shows who answered: the drill's account, never a person's.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections

POLL_SECONDS = 2.0
DONE = {"success", "failed"}
AWAITING = "awaiting_input"


class AirflowApi:
    """A small client of Airflow's public REST API with the JWT of the connection's user."""

    def __init__(self, conn_id: str = connections.AIRFLOW_API) -> None:
        conn = BaseHook.get_connection(conn_id)
        scheme = conn.schema or "http"
        self.base = f"{scheme}://{conn.host}:{conn.port}" if conn.port else f"{scheme}://{conn.host}"
        self.user = conn.login or ""
        self.token = self._login(self.user, conn.password or "")

    def _call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - the connection's URL
            return json.loads(reply.read().decode() or "null")

    def _login(self, user: str, password: str) -> str:
        return str(
            self._call("POST", "/auth/token", {"username": user, "password": password})["access_token"]
        )

    def get(self, path: str) -> Any:
        return self._call("GET", path, token=self.token)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", path, body, token=self.token)


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def answer_until_done(
    api: AirflowApi, dag_id: str, run_id: str, answers: dict[str, str], timeout: float
) -> list[dict[str, Any]]:
    """Answer each pending approval of the run whose task is in ``answers``, until the run ends.

    Returns what was answered (task, option, the user who answered). An approval the drill has no answer
    for is left to a person (or its default), and listed so the drill's report shows it.
    """
    run = _run_path(dag_id, run_id)
    answered: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = api.get(run)["state"]
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # the child run is created by the drill's trigger task, maybe not yet
                raise
            state = "pending"
        details: list[dict[str, Any]] = []
        if state != "pending":
            details = list(api.get(f"{run}/hitlDetails?response_received=false").get("hitl_details", []))
        for detail in details:
            ti = detail.get("task_instance") or {}
            task_id, map_index = ti.get("task_id"), ti.get("map_index", -1)
            if any(entry["task_id"] == task_id for entry in answered):
                continue  # answered already (the list may lag), or left to a person and already noted
            if ti.get("state") != AWAITING:
                continue  # an answer landing before the task parks is not resumed (SQLite): wait for it
            if task_id in answers:
                path = f"{run}/taskInstances/{task_id}/{map_index}/hitlDetails"
                api.patch(path, {"chosen_options": [answers[task_id]]})
                answered.append({"task_id": task_id, "option": answers[task_id], "by": api.user})
            else:
                answered.append({"task_id": task_id, "option": None, "by": None})
        if state in DONE:
            return answered
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{dag_id} run {run_id} did not end within {timeout:.0f}s")
