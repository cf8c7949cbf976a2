"""The service-down incident runbook: a real outage confirmed and diagnosed, a healthy service let be."""

from __future__ import annotations

import json

import pytest
from dag_runner import run_dag, task_states
from release_state import load_dag, resource_versions

from novacron_runbooks.dagkit.report.store import read_report
from sandbox.faults import set_fault

pytestmark = pytest.mark.sandbox


def test_an_api_that_answers_nothing_with_ready_pods_is_handed_to_people(isolated_sandbox):
    set_fault(isolated_sandbox, {"down": True})
    before = resource_versions()
    run = run_dag(load_dag("service_down"), {"dry_run": False, "reason": "INC-13 outage"})
    states = task_states(run)
    assert states["confirm"] == "success" and states["restart_api"] == "skipped", states
    assert states["no_automatic_remedy"] == "failed" and run.state == "failed"  # escalated, never resolved
    assert resource_versions() == before
    report = json.loads(read_report("service_down", run.run_id, "json"))
    confirm = next(s for s in report["steps"] if s["task_id"] == "confirm")["evidence"]["measurements"][0]
    assert confirm["value"] == ["503", "503", "503"]
    notes = next(s for s in report["steps"] if s["task_id"] == "choose_remedy_plan")["evidence"]["notes"]
    assert notes == ["remedy: none (3 pod(s) ready, yet the API does not answer)"]


def test_an_api_that_answers_ends_the_run_as_a_false_alarm(sandbox):
    run = run_dag(load_dag("service_down"), {"dry_run": False})
    states = task_states(run)
    assert states["confirm"] == "skipped" and states["gate_service"] == "skipped", states
    assert "false alarm" in read_report("service_down", run.run_id, "markdown")
