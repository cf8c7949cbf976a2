"""Before a test lets a real alert start its runbook: the alert's earlier episode over, its queued runs gone.

Alertmanager notifies a group's unchanged firing set only once, and the bridge folds a new episode into the
group's active run; an episode left by an earlier test on the worker (or a run the bridge queued for it while
the DAG was paused) would swallow the one the test is about to cause.
"""

from __future__ import annotations

from typing import Any

from backup_helpers import alertmanager_active, eventually, promql


def settle_alert(server: Any, sandbox: Any, alertname: str, dag_id: str, timeout: float = 180) -> set[str]:
    """Wait until ``alertname`` is at rest in Prometheus and Alertmanager and delete ``dag_id``'s active runs.

    Returns the ids of the runs left: the run the test's own episode starts is the one not among them.
    """
    eventually(
        lambda: (
            not promql(sandbox, f'ALERTS{{alertname="{alertname}"}}')
            and not alertmanager_active(sandbox, alertname)
        ),
        timeout,
        f"{alertname} at rest in Prometheus and Alertmanager",
    )
    status, body = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
    assert status == 200, body
    for run in body["dag_runs"]:
        if run["state"] in {"queued", "running"}:
            server.request("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}")
    return {run["dag_run_id"] for run in body["dag_runs"] if run["state"] not in {"queued", "running"}}
