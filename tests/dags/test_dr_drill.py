"""The monthly DR drill against the sandbox: its safety catch and its dry run (the bench runs full drills).

A full drill needs a scheduler to run the child DR runbook (``dag.test`` runs one DAG only) and breaks the
database it runs on; ``bench/dr_drill.py`` runs it end to end on its own sandbox and ``airflow standalone``.
"""

from __future__ import annotations

import json

import pytest
from backup_helpers import load_dag
from dag_runner import run_dag, task_states

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.hooks.database import connect_primary

pytestmark = pytest.mark.sandbox
GROUPS = ("database_failure", "data_corruption", "service_failure")


def _primary_started() -> object:
    """When the primary's postmaster started: a kill (and the restart after it) changes it."""
    with connect_primary() as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        assert row is not None
        return row[0]


def _drill_rows(run_id: str) -> int:
    with connect_primary() as conn:
        if conn.execute("SELECT to_regclass('drill_writes')").fetchone() == (None,):
            return 0
        row = conn.execute(
            "SELECT count(*) FROM drill_writes WHERE drill LIKE %s", (f"{run_id}/%",)
        ).fetchone()
        return int(row[0]) if row else 0


def test_refuses_where_the_environment_is_not_a_drill_target(sandbox, monkeypatch):
    started = _primary_started()
    monkeypatch.delenv("AIRFLOW_CONN_NOVACRON_DRILL")
    run = run_dag(load_dag("dr_drill"), {"dry_run": False, "scenarios": ["database_failure"]})

    states = task_states(run)
    assert run.state == "failed", states
    assert states["check_target"] == "failed", states
    assert all(states[f"{group}.inject"] != "success" for group in GROUPS), states
    assert all(states[f"{group}.recover"] != "success" for group in GROUPS), states
    assert _primary_started() == started, "the primary was restarted although the drill refused"
    assert _drill_rows(run.run_id) == 0
    report = json.loads(read_report("dr_drill", run.run_id, "json"))
    check = next(s for s in report["steps"] if s["task_id"] == "check_target")
    assert "novacron_drill" in check["evidence"]["error"] and "drill target" in check["evidence"]["error"]


def test_dry_run_plans_each_fault_and_changes_nothing(sandbox):
    started = _primary_started()
    run = run_dag(
        load_dag("dr_drill"), {"scenarios": ["database_failure", "service_failure"], "dry_run": True}
    )

    states = task_states(run)
    assert run.state == "success", states
    assert states["check_target"] == "success"
    for group in GROUPS:
        assert states[f"{group}.inject"] == "skipped", states
        assert states[f"{group}.recover"] == "skipped", states
    report = json.loads(read_report("dr_drill", run.run_id, "json"))
    steps = {s["task_id"]: s["evidence"] for s in report["steps"] if s["evidence"]}
    planned = [c for step in steps.values() for c in step["changes"]]
    assert {(c["target"], c["applied"]) for c in planned} == {
        ("database_failure", False),
        ("service_failure", False),
    }, planned
    assert "dr_database_failure" in planned[0]["action"]
    notes = " ".join(steps["check_target"]["notes"])
    assert "RTO 3600s, RPO 900s" in notes and "RTO 900s, RPO 0s" in notes
    assert _primary_started() == started
    assert _drill_rows(run.run_id) == 0
