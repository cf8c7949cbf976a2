"""The CI trigger script against a real ``airflow standalone``: run as a CI job runs it, in a subprocess."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "trigger_runbook.py"
DAG = "runbook_review"
USERNAME = "admin"  # the simple auth manager user that start_standalone creates (AirflowServer.login)


def trigger(server, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the script with only what a CI runner has: the URL and credentials in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
    env.update(
        AIRFLOW_URL=server.base_url,
        AIRFLOW_USERNAME=USERNAME,
        AIRFLOW_PASSWORD=server.password if password is None else password,
    )
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--dag", DAG, "--poll", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def manual_runs(server) -> set[str]:
    status, body = server.request("GET", f"/api/v2/dags/{DAG}/dagRuns?run_type=manual&limit=1000")
    assert status == 200, body
    return {run["dag_run_id"] for run in body["dag_runs"] if run["run_type"] == "manual"}


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def started_run_id(stdout: str) -> str:
    found = re.search(rf"^started {DAG} run (\S+)$", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)


def test_review_run_succeeds_and_writes_its_reports(airflow_server, tmp_path):
    # Paused first, so the run also proves --unpause; the DAG is left unpaused as the session had it.
    status, _ = airflow_server.request("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": True})
    assert status == 200
    junit, markdown = tmp_path / "junit.xml", tmp_path / "report.md"
    done = trigger(
        airflow_server,
        "--conf",
        "review_date=2026-11-27",
        "--conf",
        "since_days=7",
        "--unpause",
        "--junit-out",
        str(junit),
        "--report-out",
        str(markdown),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"unpaused DAG {DAG}" in done.stdout
    assert "state success, outcome success" in done.stdout
    assert "run_report=success" in done.stdout  # task states are printed while waiting
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" or suite.find("testsuite") is not None
    assert suite.get("name") == DAG
    assert "Monthly runbook review: SUCCESS" in markdown.read_text()
    # an integer param given as KEY=VALUE reaches the run as an integer, a string param as text
    run_id = started_run_id(done.stdout)
    status, run = airflow_server.request(
        "GET", f"/api/v2/dags/{DAG}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    )
    assert status == 200
    assert run["conf"] == {"review_date": "2026-11-27", "since_days": 7}
    assert airflow_server.password not in output
    assert airflow_server.token not in output


def test_bad_param_is_refused_before_any_run(airflow_server):
    before = manual_runs(airflow_server)
    done = trigger(airflow_server, "--conf", "since_days=abc")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "since_days" in done.stderr
    assert "HTTP 400" in done.stderr
    assert manual_runs(airflow_server) == before


def test_wrong_password_is_refused_without_printing_it(airflow_server):
    wrong = unique("not-the-password-")
    done = trigger(airflow_server, password=wrong)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "refused by Airflow (HTTP 401)" in done.stderr
    assert wrong not in output


def test_unknown_dag_is_a_usage_error(airflow_server):
    done = trigger(airflow_server, "--dag", "no_such_runbook")
    assert done.returncode == 2
    assert "'no_such_runbook' not found" in done.stderr


def test_paused_dag_is_refused_without_unpause(airflow_server):
    before = manual_runs(airflow_server)
    status, _ = airflow_server.request("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": True})
    assert status == 200
    try:
        done = trigger(airflow_server)
    finally:
        airflow_server.request("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})
    assert done.returncode == 2
    assert "is paused" in done.stderr
    assert "--unpause" in done.stderr
    assert manual_runs(airflow_server) == before


def test_same_run_id_twice_attaches_instead_of_running_twice(airflow_server):
    run_id = unique("ci:retry+")  # ':' and '+' as in Airflow's own run ids: quoted in every URL
    before = manual_runs(airflow_server)
    first = trigger(airflow_server, "--run-id", run_id, "--conf", "review_date=2026-11-27")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"started {DAG} run {run_id}" in first.stdout
    second = trigger(airflow_server, "--run-id", run_id, "--conf", "review_date=2026-11-27")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"attaching to existing run {run_id}" in second.stdout
    assert "started" not in second.stdout
    assert manual_runs(airflow_server) - before == {run_id}


def test_failed_run_exits_1_with_its_outcome(airflow_server, tmp_path):
    # Airflow accepts a conf key the DAG does not declare; the runbook's validate_params refuses it, so the
    # run really fails (before it changes anything) and run_report records the failure.
    junit = tmp_path / "junit.xml"
    done = trigger(airflow_server, "--conf-json", '{"since_dayz": 7}', "--junit-out", str(junit))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "state failed, outcome failed" in done.stdout
    assert "failed step validate_params" in done.stdout
    assert "since_dayz" in done.stdout
    assert ET.parse(junit).getroot().find(".//failure") is not None


def test_timeout_exits_3_and_leaves_the_run_going(airflow_server):
    run_id = unique("ci_timeout_")
    done = trigger(airflow_server, "--run-id", run_id, "--timeout", "1")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "NOT cancelled" in done.stderr
    assert f"--run-id '{run_id}'" in done.stderr
    # not cancelled: the run goes on to success (waited for here, so it holds no slot in later tests)
    assert airflow_server.wait_for_run(DAG, run_id, timeout=180)["state"] == "success"
