"""The performance diagnostics: plots of the real sandbox metrics, and a slow database read as such."""

from __future__ import annotations

import json

import pytest
from dag_runner import run_dag, task_states
from release_state import load_dag

from novacron_runbooks.dagkit.report.store import read_attachment, read_report
from novacron_runbooks.diagnostics.findings import Finding
from novacron_runbooks.diagnostics.performance import panel_findings

THRESHOLDS = (0.7, 0.5, 0.9)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.sandbox
def test_report_links_a_plot_per_panel_and_names_the_next_runbook(sandbox):
    run = run_dag(load_dag("debug_performance"), {"window_minutes": 5})
    states = task_states(run)
    assert run.state == "success", states
    report = read_report("debug_performance", run.run_id, "markdown")
    for panel in ("cpu", "memory", "latency", "pool"):
        link = f"files/plot_panels-{panel}.png"
        assert f"]({link})" in report
        image = read_attachment("debug_performance", run.run_id, f"plot_panels-{panel}.png")
        assert image is not None and image.startswith(PNG_SIGNATURE) and len(image) > 5000
    summary = json.loads(read_report("debug_performance", run.run_id, "json"))
    assert summary["outcome"] == "success"


def test_slow_requests_spent_in_the_database_point_at_database_issues():
    slow_db = panel_findings(
        {"latency": {"request p95": 0.9, "database p95": 0.7}, "cpu": {"api-1": 0.2}}, *THRESHOLDS
    )
    assert [f.next_runbook for f in slow_db] == ["database_issues"]
    slow_app = panel_findings(
        {"latency": {"request p95": 0.9, "database p95": 0.05}, "cpu": {"api-1": 0.95}}, *THRESHOLDS
    )
    assert {f.next_runbook for f in slow_app} == {"debug_api", "scale_up"}
    assert panel_findings({"pool": {}}, *THRESHOLDS) == [
        Finding("warning", "pool: no data", "Prometheus returned no samples in the window")
    ]
