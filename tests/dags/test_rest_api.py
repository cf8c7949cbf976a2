"""Through a real ``airflow standalone``: REST API auth, param validation, a run, and its report endpoint."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from novacron_runbooks.dagkit.report.store import write_attachment
from sandbox.airflow_settings import AIRFLOW_DEFAULT_TIMEOUT

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]


def test_api_requires_a_token(airflow_server):
    status, _ = airflow_server.request("GET", "/api/v2/dags", token="")
    assert status == 401
    status, body = airflow_server.request(
        "POST", "/auth/token", {"username": "admin", "password": "wrong"}, token=""
    )
    assert status == 401


def test_bad_param_is_refused_before_a_run_exists(airflow_server):
    status, body = airflow_server.request(
        "POST", "/api/v2/dags/runbook_review/dagRuns", {"logical_date": None, "conf": {"since_days": "many"}}
    )
    assert status == 400
    assert "since_days" in str(body)


def test_triggered_review_runs_and_serves_its_report(airflow_server):
    status, run = airflow_server.request(
        "POST",
        "/api/v2/dags/runbook_review/dagRuns",
        {
            "logical_date": None,
            "dag_run_id": "api_review_1",
            "conf": {"review_date": "2026-11-27"},
            "note": "test",
        },
    )
    assert status == 200, run
    finished = airflow_server.wait_for_run("runbook_review", "api_review_1")
    assert finished["state"] == "success"

    status, junit = airflow_server.request("GET", "/novacron/reports/runbook_review/api_review_1/junit.xml")
    assert status == 200
    assert '<testsuite name="runbook_review"' in junit
    assert 'failures="0"' in junit
    status, markdown = airflow_server.request(
        "GET", "/novacron/reports/runbook_review/api_review_1/report.md"
    )
    assert status == 200
    assert "Monthly runbook review: SUCCESS" in markdown
    assert "Triggered by: manual (admin)" in markdown

    status, _ = airflow_server.request(
        "GET", "/novacron/reports/runbook_review/api_review_1/junit.xml", token=""
    )
    assert status == 401
    status, _ = airflow_server.request("GET", "/novacron/reports/runbook_review/no_such_run/junit.xml")
    assert status == 404


def test_report_attachments_are_served_as_png_behind_the_token(airflow_server, monkeypatch):
    monkeypatch.setenv("NOVACRON_REPORTS_URL", f"file://{airflow_server.home / 'runbook_reports'}")
    plot = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert (
        write_attachment("runbook_review", "attached_1", "plot_panels-cpu.png", plot)
        == "files/plot_panels-cpu.png"
    )
    url = f"{airflow_server.base_url}/novacron/reports/runbook_review/attached_1/files/plot_panels-cpu.png"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {airflow_server.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert (response.read(), response.headers["Content-Type"]) == (plot, "image/png")
    for headers, refused in (({}, 401), ({"Authorization": f"Bearer {airflow_server.token}"}, 404)):
        path = url if refused == 401 else url.replace("cpu.png", "gone.png")
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(path, headers=headers), timeout=30)
        assert error.value.code == refused


def test_a_run_succeeds_while_the_api_server_answers_its_tasks_slower_than_airflows_default_timeout(
    airflow_server, execution_api_proxy
):
    """An API server busy past the 5 s default (an alert storm on a small metadata DB) does not fail a task.

    The first answers the run's tasks get are each held longer than Airflow's default
    ``execution_api_timeout``: a task's start call among them. With the default, the call is abandoned, the
    server still starts the task, the retry is refused and the task fails before it runs (as it did in this
    suite). With ``sandbox.airflow_settings`` the task waits, runs once and the run succeeds.
    """
    slow_answers = 6
    execution_api_proxy.slow_answers(AIRFLOW_DEFAULT_TIMEOUT + 3, slow_answers)
    try:
        status, run = airflow_server.request(
            "POST",
            "/api/v2/dags/runbook_review/dagRuns",
            {"logical_date": None, "dag_run_id": "slow_api_review", "conf": {"review_date": "2026-11-27"}},
        )
        assert status == 200, run
        finished = airflow_server.wait_for_run("runbook_review", "slow_api_review", timeout=900)
    finally:
        held = execution_api_proxy.slowed_answers
        execution_api_proxy.slow_answers(0, 0)
    assert held == slow_answers  # every held answer was a task's: only tasks use this route
    assert finished["state"] == "success", finished
    status, tasks = airflow_server.request(
        "GET", "/api/v2/dags/runbook_review/dagRuns/slow_api_review/taskInstances?limit=100"
    )
    assert status == 200, tasks
    assert {(ti["task_id"], ti["state"], ti["try_number"]) for ti in tasks["task_instances"]} == {
        (ti["task_id"], "success", 1) for ti in tasks["task_instances"]
    }
