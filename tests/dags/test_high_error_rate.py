"""The high-error-rate incident runbook against a real bad release: confirmed, diagnosed, remedy chosen."""

from __future__ import annotations

import json

import pytest
from backup_helpers import eventually, promql
from dag_runner import run_dag, task_states
from release_state import (
    BAD_IMAGE,
    SEED_IMAGE,
    load_dag,
    promote_bad_release,
    read_state,
    reset_release_state,
    resource_versions,
    wait_service_healthy,
)

from novacron_runbooks.dagkit.report.store import read_report

pytestmark = pytest.mark.sandbox


def test_a_promoted_bad_release_is_confirmed_and_named_for_rollback_in_a_dry_run(isolated_sandbox):
    promote_bad_release(keep_old_colour=True)
    eventually(
        lambda: promql(
            isolated_sandbox, 'sum(rate(http_requests_total{version="1.5.0-bad",code=~"5.."}[1m])) > 0'
        ),
        90,
        "Prometheus to see the bad release's errors",
    )
    before = resource_versions()
    run = run_dag(load_dag("high_error_rate"), {"dry_run": True, "reason": "INC-11 errors"})
    states = task_states(run)
    assert run.state == "success", states
    assert states["run_rollback"] == "skipped" and states["no_automatic_remedy"] == "success", states
    assert resource_versions() == before  # a dry run starts nothing
    report = json.loads(read_report("high_error_rate", run.run_id, "json"))
    notes = next(s for s in report["steps"] if s["task_id"] == "choose_remedy_plan")["evidence"]["notes"]
    assert any(n.startswith("remedy: rollback") and BAD_IMAGE in n for n in notes), notes


def test_a_healthy_service_ends_the_run_as_a_false_alarm(sandbox):
    # Earlier tests on this sandbox may have served errors inside the 2-minute confirmation window.
    wait_service_healthy(180, window="2m")
    run = run_dag(load_dag("high_error_rate"), {"dry_run": False})
    states = task_states(run)
    assert states["confirm"] == "skipped", states
    assert states["run_rollback"] == "skipped" and states["gate_error_rate"] == "skipped"
    assert "false alarm" in read_report("high_error_rate", run.run_id, "markdown")


@pytest.mark.airflow_server
def test_the_incident_rolls_the_bad_release_back_through_a_child_run_and_verifies(airflow_server, sandbox):
    server = airflow_server
    reset_release_state(healthy=False)
    try:
        for dag_id in ("high_error_rate", "rollback"):
            status, body = server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            assert status == 200, body
        promote_bad_release(keep_old_colour=True)
        eventually(
            lambda: promql(
                sandbox, 'sum(rate(http_requests_total{version="1.5.0-bad",code=~"5.."}[1m])) > 0'
            ),
            90,
            "Prometheus to see the bad release's errors",
        )
        status, run = server.request(
            "POST",
            "/api/v2/dags/high_error_rate/dagRuns",
            {"logical_date": None, "dag_run_id": "inc_12", "conf": {"dry_run": False, "reason": "INC-12"}},
        )
        assert status == 200, run
        finished = server.wait_for_run("high_error_rate", "inc_12", timeout=420)
        assert finished["state"] == "success", finished
        child = server.wait_for_run("rollback", "inc_12__rollback", timeout=60)
        assert child["state"] == "success"
        assert child["conf"]["parent_run"] == "high_error_rate/inc_12"  # worked under the incident's lock
        state = read_state()
        assert (state.active, state.active_image) == ("blue", SEED_IMAGE)
        status, report = server.request("GET", "/novacron/reports/high_error_rate/inc_12/report.md")
        assert status == 200 and "remedy: rollback" in report
    finally:
        for dag_id in ("high_error_rate", "rollback"):
            server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        reset_release_state(healthy=False)
