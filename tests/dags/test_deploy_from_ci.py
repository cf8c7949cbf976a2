"""A CI pipeline deploys through the REST API while two other runbooks want the same target.

On a real ``airflow standalone`` (scheduler, triggerer, API server): ``ci/trigger_runbook.py`` starts a
deployment and waits for its verdict; meanwhile a rollback that may not wait fails fast naming the holder,
and a rollback that may wait starts only after the deployment has released the deploy lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from release_state import GOOD_IMAGE, SEED_IMAGE, history, read_state, reset_release_state

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "trigger_runbook.py"


@pytest.fixture
def seeded(airflow_server):
    reset_release_state()
    for dag_id in ("deployment", "rollback"):
        deadline = time.monotonic() + 120
        while not airflow_server.ready(dag_id) and time.monotonic() < deadline:
            time.sleep(2)
        status, body = airflow_server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        assert status == 200, body
    yield airflow_server
    reset_release_state(healthy=False)  # the next test that needs the service at rest waits for it itself


def task_instances(server, dag_id: str, run_id: str) -> dict[str, dict]:
    status, body = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
    assert status == 200, body
    return {ti["task_id"]: ti for ti in body["task_instances"]}


def wait_for_task(server, dag_id: str, state: str, task_id: str, timeout: float = 120) -> str:
    """Return the id of the run of ``dag_id`` whose ``task_id`` reached ``state``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?state=running")
        assert status == 200, body
        for run in body["dag_runs"]:
            ti = task_instances(server, dag_id, run["dag_run_id"]).get(task_id) or {}
            if ti.get("state") == state:
                return str(run["dag_run_id"])
        time.sleep(1)
    raise AssertionError(f"no {dag_id} run had {task_id} in state {state} within {timeout} s")


def trigger(server, dag_id: str, conf: dict) -> str:
    status, body = server.request(
        "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
    )
    assert status == 200, body
    return str(body["dag_run_id"])


def when(ti: dict, key: str) -> datetime:
    return datetime.fromisoformat(ti[key])


def test_ci_deploys_while_the_lock_keeps_other_runbooks_out(seeded, tmp_path):
    server = seeded
    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
    env.update(AIRFLOW_URL=server.base_url, AIRFLOW_USERNAME="admin", AIRFLOW_PASSWORD=server.password)
    conf = [
        "image=" + GOOD_IMAGE,
        "change_ticket=CHG-77",
        "analysis_seconds=20",
        "scale_down_delay_seconds=5",
    ]
    ci = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--dag", "deployment", "--poll", "2", "--timeout", "600"]
        + [arg for item in conf for arg in ("--conf", item)]
        + ["--junit-out", str(junit)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deploy_run = wait_for_task(server, "deployment", "success", "acquire_lock")
        impatient = trigger(server, "rollback", {"dry_run": False, "lock_wait_minutes": 0})
        patient = trigger(server, "rollback", {"dry_run": False, "reason": "after the deploy"})
        output, _ = ci.communicate(timeout=600)
    finally:
        if ci.poll() is None:
            ci.kill()
    assert ci.returncode == 0, output
    assert "outcome success" in output
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None and suite.get("failures") == "0"

    fast = server.wait_for_run("rollback", impatient, timeout=120)
    assert fast["state"] == "failed"
    fast_tis = task_instances(server, "rollback", impatient)
    assert fast_tis["acquire_lock"]["state"] == "failed"
    assert fast_tis["find_release"]["state"] == "upstream_failed"
    status, report = server.request("GET", f"/novacron/reports/rollback/{impatient}/report.md")
    assert status == 200
    assert f"held by deployment/{deploy_run}" in str(report)

    slow = server.wait_for_run("rollback", patient, timeout=300)
    slow_tis = task_instances(server, "rollback", patient)
    assert slow["state"] == "success", {task: ti["state"] for task, ti in slow_tis.items()}
    deploy_tis = task_instances(server, "deployment", deploy_run)
    assert when(slow_tis["find_release"], "start_date") >= when(deploy_tis["release_lock"], "end_date")
    assert when(slow_tis["acquire_lock"], "end_date") >= when(deploy_tis["scale_down_old"], "end_date")

    # the patient rollback found the deployment's release in the history and went back to the one before
    assert [(r.image, r.result) for r in history()] == [
        (SEED_IMAGE, "adopted"),
        (GOOD_IMAGE, "rolled-back"),
        (SEED_IMAGE, "restored"),
    ]
    assert read_state().active_image == SEED_IMAGE
