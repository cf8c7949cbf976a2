"""The DWCP diagnostics on degraded links, and a link param that tries to break out of PromQL."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import ParamValidationError
from backup_helpers import eventually, promql
from dag_runner import run_dag, task_states
from release_state import load_dag

from novacron_runbooks.dagkit.report.store import read_attachment, read_report
from sandbox.faults import set_fault


@pytest.mark.sandbox
def test_a_lossy_link_is_found_plotted_and_narrowed_by_the_link_param(isolated_sandbox):
    set_fault(isolated_sandbox, {"dwcp_degraded": True})
    eventually(
        lambda: promql(isolated_sandbox, "sum by (link) (rate(dwcp_retransmits_total[20s])) > 20"),
        90,
        "Prometheus to see the retransmits",
    )
    run = run_dag(load_dag("debug_dwcp"), {"window_minutes": 5, "link": "dc1-dc2"})
    assert run.state == "success", task_states(run)
    summary = json.loads(read_report("debug_dwcp", run.run_id, "json"))
    links = next(s for s in summary["steps"] if s["task_id"] == "measure_links")["evidence"]
    retransmits = next(m for m in links["measurements"] if m["name"] == "DWCP retransmits per link")
    assert list(retransmits["value"]) == ["dc1-dc2"]  # the param narrowed every query to one link
    assert retransmits["value"]["dc1-dc2"] > 20
    assert read_attachment("debug_dwcp", run.run_id, "measure_links-retransmits.png").startswith(b"\x89PNG")
    assert "link dc1-dc2" in read_report("debug_dwcp", run.run_id, "markdown")


@pytest.mark.sandbox
def test_a_link_crafted_to_inject_promql_is_refused_before_a_run_exists(sandbox):
    with pytest.raises(ParamValidationError, match="param link"):
        run_dag(load_dag("debug_dwcp"), {"link": 'dc1"} or vector(1) #'})
