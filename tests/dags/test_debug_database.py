"""The read-only database diagnostics: plans of the heaviest statements, writing ones never run."""

from __future__ import annotations

import json

import pytest
from dag_runner import run_dag, task_states
from release_state import load_dag
from test_database_issues import app_connection

from novacron_runbooks.dagkit.report.store import read_report


@pytest.mark.sandbox
def test_report_plans_the_heaviest_statements_without_running_a_writing_one(sandbox):
    with app_connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS diag_probe (n int)")
        conn.execute("TRUNCATE diag_probe")
        for _ in range(3):  # heavy enough to rank among the top statements by total time
            conn.execute(
                "INSERT INTO diag_probe SELECT n FROM generate_series(1, 200000) n WHERE n > %s", (0,)
            )
        conn.commit()
        before = conn.execute("SELECT count(*) FROM diag_probe").fetchone()
    try:
        run = run_dag(load_dag("debug_database"), {"top_queries": 50, "window_minutes": 5})
        states = task_states(run)
        assert run.state == "success", states
        with app_connection() as conn:
            assert conn.execute("SELECT count(*) FROM diag_probe").fetchone() == before  # planned, never run
        report = read_report("debug_database", run.run_id, "markdown")
        assert "Insert on diag_probe" in report
        assert "run next" in report or "no finding calls for another runbook" in report
        summary = json.loads(read_report("debug_database", run.run_id, "json"))
        assert summary["outcome"] == "success"
    finally:
        with app_connection() as conn:
            conn.execute("DROP TABLE IF EXISTS diag_probe")
            conn.commit()
