"""The high-error-rate incident runbook against a real bad release: confirmed, diagnosed, remedy chosen."""

from __future__ import annotations

import json

import pytest
from alert_rest import settle_alert
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
from sandbox import alert_timing

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
    # a dry run: were confirm to see errors after all, the run must end (and fail here), not wait on a child
    # run that dag.test never starts
    run = run_dag(load_dag("high_error_rate"), {"dry_run": True})
    states = task_states(run)
    assert states["confirm"] == "skipped", states
    assert states["run_rollback"] == "skipped" and states["gate_error_rate"] == "skipped"
    assert "false alarm" in read_report("high_error_rate", run.run_id, "markdown")


def runs_of(server, dag_id: str) -> list[dict]:
    status, body = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
    assert status == 200, body
    return list(body["dag_runs"])


@pytest.mark.airflow_server
def test_a_bad_release_fires_the_alert_and_the_incident_it_starts_rolls_it_back(airflow_server, sandbox):
    """The whole chain: errors → Prometheus rule → Alertmanager → bridge → incident → rollback → resolved.

    Only the timing is the test's: ``HighErrorRate`` is sped up 20x in the sandbox's copy of the rules
    (``for`` 5m → 15s, its 5m windows → 15s), so it fires and resolves within the test.
    """
    server = airflow_server
    reset_release_state(healthy=False)
    try:
        alert_timing.apply(sandbox, {"HighErrorRate": 20})
        before = settle_alert(server, sandbox, "HighErrorRate", "high_error_rate")
        for dag_id in ("high_error_rate", "rollback"):
            status, body = server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            assert status == 200, body
        promote_bad_release(keep_old_colour=True)
        started = eventually(
            lambda: [r for r in runs_of(server, "high_error_rate") if r["dag_run_id"] not in before],
            180,
            "Alertmanager to start high_error_rate through the bridge",
        )
        run_id = started[0]["dag_run_id"]
        assert started[0]["conf"]["alert"]["labels"]["alertname"] == "HighErrorRate"
        assert started[0]["conf"]["dry_run"] is False  # within the breaker's budget: it remediates
        finished = server.wait_for_run("high_error_rate", run_id, timeout=420)
        assert finished["state"] == "success", finished
        child = server.wait_for_run("rollback", f"{run_id}__rollback", timeout=60)
        assert child["state"] == "success"
        assert child["conf"]["parent_run"] == f"high_error_rate/{run_id}"  # worked under the incident's lock
        state = read_state()
        assert (state.active, state.active_image) == ("blue", SEED_IMAGE)
        status, report = server.request("GET", f"/novacron/reports/high_error_rate/{run_id}/report.md")
        assert status == 200 and "remedy: rollback" in report
        resolved = eventually(
            lambda: (
                "Resolved: HighErrorRate"
                in (
                    server.request("GET", f"/api/v2/dags/high_error_rate/dagRuns/{run_id}")[1].get("note")
                    or ""
                )
            ),
            180,
            "Alertmanager's resolved notification on the incident's note",
        )
        assert resolved
        # Alertmanager repeated the firing group while the run was active: still the one run.
        # Airflow's own StatsD metrics carry the run into the per-runbook series the dashboard reads
        eventually(
            lambda: promql(
                sandbox, 'airflow_dagrun_duration_seconds_count{dag_id="high_error_rate",state="success"} > 0'
            ),
            60,
            "the incident's run in Prometheus' per-runbook duration series (StatsD)",
        )
        new_runs = [
            r["dag_run_id"] for r in runs_of(server, "high_error_rate") if r["dag_run_id"] not in before
        ]
        assert new_runs == [run_id]
    finally:
        alert_timing.apply(sandbox, {})
        for dag_id in ("high_error_rate", "rollback"):
            server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        reset_release_state(healthy=False)
