"""Escalation timers fire from a live scheduler while a run is unresolved, and stop when it ends."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
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
        time.sleep(10)  # level 4 is due 2 min after queueing; the run ended long before
    finally:
        server.stop()
    assert finished["state"] == "success", f"logs in {home}"
    shutil.rmtree(home, ignore_errors=True)
    escalations = [t for t in _slack_texts(sandbox) if "escalation_probe run stuck_1" in t]
    assert any("escalating to level 2, Team Lead" in t for t in escalations), escalations
    assert any("escalating to level 3, Engineering Manager" in t for t in escalations), escalations
    assert not any("level 4" in t for t in escalations), escalations
