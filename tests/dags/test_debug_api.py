"""The API diagnostics on a sandbox whose API serves errors: plots, pods, the finding and the next runbook."""

from __future__ import annotations

import json

import pytest
from backup_helpers import eventually, promql
from dag_runner import run_dag, task_states
from release_state import load_dag

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.report.store import read_attachment, read_report
from sandbox.faults import set_fault

ERROR_RATE = float(catalog_runbook("debug_api").threshold("error_rate").value)


@pytest.mark.sandbox
def test_errors_on_every_endpoint_are_found_and_point_at_the_error_rate_runbook(isolated_sandbox):
    set_fault(isolated_sandbox, {"error_rate": 1.0})
    # the fault stays until Prometheus shows what the runbook must find: /api/v1/vms over the error
    # threshold in the 5-minute window it will measure
    vms = 'service="novacron-api",endpoint="/api/v1/vms"'
    errors = f'sum(rate(http_requests_total{{{vms},code=~"5.."}}[5m]))'
    share = f"{errors} / sum(rate(http_requests_total{{{vms}}}[5m]))"
    eventually(
        lambda: promql(isolated_sandbox, f"{share} > {ERROR_RATE}"),
        120,
        "Prometheus to see /api/v1/vms over the error threshold",
    )
    set_fault(isolated_sandbox, {"clear": True})
    run = run_dag(load_dag("debug_api"), {"window_minutes": 5})
    assert run.state == "success", task_states(run)
    summary = json.loads(read_report("debug_api", run.run_id, "json"))
    evidence = next(s for s in summary["steps"] if s["task_id"] == "write_findings")["evidence"]
    assert "run next: high_error_rate" in evidence["notes"], evidence["notes"]
    titles = [m["name"] for m in evidence["measurements"]]
    assert any(t.startswith("finding: /api/v1/vms: ") and "errors" in t for t in titles), titles
    for panel in ("errors", "latency"):
        assert read_attachment("debug_api", run.run_id, f"measure_endpoints-{panel}.png").startswith(
            b"\x89PNG"
        )
    report = read_report("debug_api", run.run_id, "markdown")
    assert "novacron-api-blue" in report  # the pods it inspected
