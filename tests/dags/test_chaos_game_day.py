"""The quarterly chaos game day: its dry run, and a real one that finds a runbook unable to resolve its fault.

The real one runs on ``airflow standalone`` (the bridge starts the incident runbook, which ``dag.test`` cannot
do) with only the latency scenario and ``HighLatency`` sped up 20x in the sandbox's copy of the rules.
``high_latency`` has no automatic remedy for latency that neither the database nor CPU explains: it hands
over to people and its run fails, which the game day must report as a gap and fail on.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from alert_rest import settle_alert
from backup_helpers import eventually, load_dag, pushed
from dag_runner import run_dag, task_states

from novacron_runbooks import connections
from novacron_runbooks.dagkit.report.store import read_report
from sandbox import alert_timing
from sandbox.faults import set_fault

pytestmark = pytest.mark.sandbox
GROUPS = ("latency", "db_pool_exhausted", "replica_stopped", "pods_killed")


def standin_faults(layout) -> dict:
    with urllib.request.urlopen(f"{layout.url('standin')}/_sandbox/faults", timeout=10) as reply:
        return dict(json.loads(reply.read()))


def test_dry_run_plans_each_fault_and_injects_nothing(sandbox):
    before = standin_faults(sandbox)
    run = run_dag(load_dag("chaos_game_day"), {"dry_run": True, "scenarios": ["latency", "replica_stopped"]})

    states = task_states(run)
    assert run.state == "success", states
    assert states["check_target"] == "success"
    for group in GROUPS:
        assert states[f"{group}.inject"] == "skipped", states
        assert states[f"{group}.observe"] == "skipped", states
        assert states[f"{group}.clear"] == "skipped", states
    assert states["score"] == "skipped"
    report = json.loads(read_report("chaos_game_day", run.run_id, "json"))
    planned = [c for s in report["steps"] if s["evidence"] for c in s["evidence"]["changes"]]
    assert [(c["target"], c["applied"]) for c in planned] == [("latency", False), ("replica_stopped", False)]
    assert "HighLatency → high_latency" in planned[0]["action"]
    assert "ReplicationLagHigh → database_issues" in planned[1]["action"]
    assert standin_faults(sandbox) == before


def _finished(server, dag_id: str, run_id: str, timeout: float) -> dict:
    """Wait for the run to end; an API server slow to answer one poll (SQLite under load) is polled again."""

    def ended() -> dict | None:
        try:
            status, run = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        except TimeoutError:
            return None
        return run if status == 200 and run["state"] in {"success", "failed"} else None

    return dict(eventually(ended, timeout, f"{dag_id} run {run_id} to end"))


def _api_account(server) -> None:
    """The game day reads incident runs through the REST API as this connection's user (the admin here)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    body = {
        "connection_id": connections.AIRFLOW_API,
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": port,
        "login": "admin",
        "password": server.password,
    }
    status, reply = server.request("POST", "/api/v2/connections", body)
    assert status == 201, reply


def _catch_up_run_skipped(server) -> None:
    """Unpausing started the latest quarter's run at once (catchup off): it must skip, breaking nothing."""
    status, body = server.request("GET", "/api/v2/dags/chaos_game_day/dagRuns?run_type=scheduled")
    assert status == 200 and body["dag_runs"], body
    run = body["dag_runs"][0]
    assert run["state"] == "success", run
    path = f"/api/v2/dags/chaos_game_day/dagRuns/{run['dag_run_id']}/taskInstances"
    states = {ti["task_id"]: ti["state"] for ti in server.request("GET", path)[1]["task_instances"]}
    assert states["check_target"] == "skipped", states
    assert all(states[f"{group}.inject"] == "skipped" for group in GROUPS), states


@pytest.mark.airflow_server
def test_the_game_day_detects_a_runbook_that_failed_to_resolve_its_fault(airflow_server, sandbox):
    server = airflow_server
    dags = ("chaos_game_day", "high_latency")
    settle_alert(server, sandbox, "HighLatency", "high_latency")
    _api_account(server)
    try:
        for dag_id in dags:
            status, body = server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            assert status == 200, body
        alert_timing.apply(sandbox, {"HighLatency": 20})
        conf = {"scenarios": ["latency"], "dry_run": False, "reason": "game day test"}
        status, run = server.request(
            "POST", "/api/v2/dags/chaos_game_day/dagRuns", {"logical_date": None, "conf": conf}
        )
        assert status == 200, run
        finished = _finished(server, "chaos_game_day", run["dag_run_id"], timeout=600)

        assert finished["state"] == "failed", finished
        run_id = run["dag_run_id"]
        status, report = server.request("GET", f"/novacron/reports/chaos_game_day/{run_id}/report.json")
        assert status == 200, report
        steps = {s["task_id"]: s for s in report["steps"]}
        assert steps["latency.inject"]["state"] == "success"
        assert steps["latency.observe"]["state"] == "success"
        assert steps["latency.clear"]["state"] == "success"
        assert steps["score"]["state"] == "failed"
        scored = steps["score"]["evidence"]["measurements"][0]
        assert scored["verdict"] == "fail" and scored["value"]["detected"] is True
        assert scored["value"]["runbook_started"] is True and scored["value"]["resolved"] is False
        assert "high_latency run" in scored["value"]["gap"] and "ended failed" in scored["value"]["gap"]
        assert "did not resolve" in steps["score"]["evidence"]["error"]
        observed = server.request("GET", f"/api/v2/dags/chaos_game_day/dagRuns/{run_id}")[1]
        assert observed["state"] == "failed"
        incident_id = steps["latency.observe"]["evidence"]["measurements"][1]["value"]
        status, incident = server.request("GET", f"/api/v2/dags/high_latency/dagRuns/{incident_id}")
        assert status == 200 and incident["state"] == "failed", incident
        assert incident["conf"]["alert"]["labels"]["alertname"] == "HighLatency"
        labels = {"scenario": "latency", "runbook": "high_latency"}
        assert pushed(sandbox, "novacron_gameday_resolved", **labels) == 0.0
        assert pushed(sandbox, "novacron_gameday_detected", **labels) == 1.0
        assert standin_faults(sandbox)["latency_ms"] == 0
        _catch_up_run_skipped(server)
    finally:
        alert_timing.apply(sandbox, {})
        set_fault(sandbox, {"latency_ms": 0})
        for dag_id in dags:
            server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        server.request("DELETE", f"/api/v2/connections/{connections.AIRFLOW_API}")
