"""Escalation timers fire from a live scheduler while a run is unresolved, and stop when it ends."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from sandbox.airflow import start_standalone

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]
E2E_DAGS = Path(__file__).resolve().parents[1] / "e2e_dags"


def _slack_texts(layout) -> list[str]:
    with urllib.request.urlopen(f"{layout.url('receivers')}/_messages?kind=slack", timeout=10) as response:
        body = json.load(response)
    messages = body["messages"] if isinstance(body, dict) else body
    return [str((m.get("body") or {}).get("text", "")) for m in messages]


def test_escalation_follows_the_ladder_only_while_unresolved(sandbox):
    home = Path(tempfile.mkdtemp(prefix="novacron-escalation-"))
    server = start_standalone(
        home,
        dags_folder=E2E_DAGS,
        wait_for_dag="escalation_probe",
    )
    try:
        status, run = server.request(
            "POST", "/api/v2/dags/escalation_probe/dagRuns", {"logical_date": None, "dag_run_id": "stuck_1"}
        )
        assert status == 200, run
        finished = server.wait_for_run("escalation_probe", "stuck_1", timeout=240)
        assert finished["state"] == "success", f"logs in {home}"
        # level 4 is due 2 min after queueing and the run ended before: Airflow must have dropped its
        # deadline (a finished run's unmissed deadlines are pruned), so it can never fire afterwards
        _wait_until(lambda: _deadlines(home, "stuck_1")[0] == 0, 120, "the run's unmissed deadlines pruned")
        assert _deadlines(home, "stuck_1") == (0, 2), "only levels 2 and 3 may have been missed"
        _wait_until(lambda: len(_escalations(sandbox)) >= 2, 120, "levels 2 and 3 posted to Slack")
    finally:
        server.stop()
    shutil.rmtree(home, ignore_errors=True)
    escalations = _escalations(sandbox)
    assert any("escalating to level 2, Team Lead" in t for t in escalations), escalations
    assert any("escalating to level 3, Engineering Manager" in t for t in escalations), escalations
    assert not any("level 4" in t for t in escalations), escalations


def _escalations(layout) -> list[str]:
    return [t for t in _slack_texts(layout) if "escalation_probe run stuck_1" in t]


def _deadlines(home: Path, run_id: str) -> tuple[int, int]:
    """The run's deadlines not yet missed, and those missed, from the standalone's metadata database."""
    with closing(sqlite3.connect(home / "airflow.db", timeout=30)) as db:
        row = db.execute(
            "SELECT count(*) - coalesce(sum(deadline.missed), 0), coalesce(sum(deadline.missed), 0)"
            " FROM deadline JOIN dag_run ON deadline.dagrun_id = dag_run.id WHERE dag_run.run_id = ?",
            (run_id,),
        ).fetchone()
    return int(row[0]), int(row[1])


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)
