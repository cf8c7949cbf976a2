"""The distributed path for real: a gated deployment through the CeleryExecutor, on two Celery workers.

``sandbox.celery_stack`` starts Redis, a PostgreSQL metadata database on the sandbox, the API server,
scheduler, DAG processor, triggerer and two Celery workers. The deployment runbook is triggered through the
REST API with a good release; it must promote it (Service switched, history recorded), and its task
instances must have run on both workers: each worker names itself in the hostname Airflow records on the
task instances it ran, and its own log shows it executed those tasks.

The stack's DAG folder holds only the deployment DAG file (a link to the project's): the DAG processor then
serves it at once instead of after parsing every runbook.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import pytest
from release_state import GOOD_IMAGE, SEED_IMAGE, history, read_state, reset_release_state

from sandbox.celery_stack import CeleryStack, start_celery_stack
from sandbox.layout import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]

# The shortest gates the deployment's params allow: the catalog's minimum analysis, no old colour kept.
CONF = {
    "image": GOOD_IMAGE,
    "change_ticket": "CHG-910",
    "analysis_seconds": 10,
    "scale_down_delay_seconds": 0,
    "rollout_timeout_seconds": 60,
}


@pytest.fixture
def celery_stack(sandbox, tmp_path: Path) -> Iterator[CeleryStack]:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "deployment.py").symlink_to(REPO_ROOT / "dags" / "deployment.py")
    started = time.monotonic()
    stack = start_celery_stack(sandbox, wait_for_dag="deployment", dags_folder=dags)
    print(f"celery stack ready after {time.monotonic() - started:.1f} s ({stack.timings})")
    try:
        yield stack
    finally:
        stack.stop()


def ran_tasks(stack: CeleryStack, run_id: str) -> dict[str, dict[str, Any]]:
    """Task instances of the run that a worker executed (empty and skipped branches never reach one)."""
    path = f"/api/v2/dags/deployment/dagRuns/{run_id}/taskInstances?limit=100"
    status, body = stack.server.request("GET", path)
    assert status == 200, body
    return {ti["task_id"]: ti for ti in body["task_instances"] if ti["hostname"]}


def test_a_gated_deployment_runs_end_to_end_on_two_celery_workers(celery_stack: CeleryStack):
    server = celery_stack.server
    reset_release_state()
    try:
        status, body = server.request("PATCH", "/api/v2/dags/deployment", {"is_paused": False})
        assert status == 200, body
        status, body = server.request(
            "POST", "/api/v2/dags/deployment/dagRuns", {"logical_date": None, "conf": CONF}
        )
        assert status == 200, body
        run_id = body["dag_run_id"]
        started = time.monotonic()
        run = server.wait_for_run("deployment", run_id, timeout=420)
        print(f"deployment run took {time.monotonic() - started:.1f} s")
        assert run["state"] == "success", ran_tasks(celery_stack, run_id)

        state = read_state()
        assert state.active_image == GOOD_IMAGE
        assert state.ready[state.active] == 3
        releases = history()
        assert [(r.image, r.result) for r in releases] == [(SEED_IMAGE, "adopted"), (GOOD_IMAGE, "promoted")]
        assert releases[-1].change_ticket == CONF["change_ticket"]
        assert releases[-1].run == f"deployment/{run_id}"

        tasks = ran_tasks(celery_stack, run_id)
        assert {"validate_params", "switch_traffic", "gate_post_promotion", "run_report"} <= tasks.keys()
        machine = socket.gethostname()
        by_worker = {
            name: {task for task, ti in tasks.items() if ti["hostname"] == f"{machine}-{name}"}
            for name in celery_stack.workers
        }
        assert set().union(*by_worker.values()) == tasks.keys(), {
            t: ti["hostname"] for t, ti in tasks.items()
        }
        for name, mine in by_worker.items():
            assert mine, f"{name} ran no task: {by_worker}"
            log = celery_stack.log(name).read_text(errors="replace")
            executed = {task for task in tasks if f"task_id='{task}'" in log}
            # a deferred or rescheduled task may have started on the other worker too, hence <=
            assert mine <= executed, f"{name}'s log shows {sorted(executed)}, the API says {sorted(mine)}"

        status, report = server.request("GET", f"/novacron/reports/deployment/{run_id}/report.md")
        assert status == 200
        assert GOOD_IMAGE in str(report)
    finally:
        reset_release_state(healthy=False)
