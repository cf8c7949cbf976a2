"""The high-latency incident runbook on a slow API whose database is fast: confirmed, handed to people."""

from __future__ import annotations

import json

import pytest
from backup_helpers import eventually, promql
from dag_runner import run_dag, task_states
from release_state import load_dag

from novacron_runbooks.dagkit.report.store import read_report
from sandbox.faults import set_fault

pytestmark = pytest.mark.sandbox


def test_slow_requests_with_a_fast_database_are_confirmed_and_the_slowest_endpoints_named(isolated_sandbox):
    set_fault(isolated_sandbox, {"latency_ms": 800})
    eventually(
        lambda: promql(
            isolated_sandbox,
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m]))) > 0.5",
        ),
        90,
        "Prometheus to see the slow requests",
    )
    run = run_dag(load_dag("high_latency"), {"dry_run": True, "reason": "INC-14 slow"})
    states = task_states(run)
    assert run.state == "success", states
    assert states["confirm"] == "success" and states["run_database_issues"] == "skipped", states
    report = json.loads(read_report("high_latency", run.run_id, "json"))
    notes = next(s for s in report["steps"] if s["task_id"] == "choose_remedy_plan")["evidence"]["notes"]
    assert notes[0].startswith("remedy: none (neither the database nor CPU explains it"), notes
    assert "/api/v1/" in notes[0]
