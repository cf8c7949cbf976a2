"""End to end: the monthly review DAG reads real run reports and posts to the sandbox's Slack receiver."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag

from novacron_runbooks.dagkit.report.model import RunReport, StepResult
from novacron_runbooks.dagkit.report.render import render_json
from novacron_runbooks.dagkit.report.store import read_report, write_report

pytestmark = pytest.mark.sandbox
REVIEW_DATE = datetime(2026, 11, 27, tzinfo=UTC)


def _history(dag_id: str, run_id: str, *, days_ago: float, minutes: float, failed: bool = False) -> None:
    started = REVIEW_DATE - timedelta(days=days_ago)
    state = "failed" if failed else "success"
    report = RunReport(
        dag_id=dag_id,
        run_id=run_id,
        title=dag_id,
        run_type="manual",
        triggered_by="manual",
        started_at=started.isoformat(),
        finished_at=(started + timedelta(minutes=minutes)).isoformat(),
        params={},
        steps=[StepResult("act", state, evidence={"error": "boom"} if failed else None)],
        duration_seconds=minutes * 60,
    )
    write_report(dag_id, run_id, {"json": render_json(report)})


def _slack_messages(layout) -> list[dict]:
    with urllib.request.urlopen(f"{layout.url('receivers')}/_messages?kind=slack", timeout=10) as response:
        body = json.load(response)
    return body["messages"] if isinstance(body, dict) else body


def _texts(messages) -> list[str]:
    return [str((m.get("body") or {}).get("text", "")) for m in messages]


@pytest.fixture
def reports_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVACRON_REPORTS_URL", f"file://{tmp_path / 'reports'}")
    _history("rollback", "manual__r1", days_ago=3, minutes=2, failed=True)
    _history("deployment", "manual__d1", days_ago=10, minutes=45)  # budget 30 min: overran
    _history("scale_up", "manual__s1", days_ago=5, minutes=4)  # fine
    _history("restore", "manual__old", days_ago=90, minutes=10, failed=True)  # before the window


@pytest.fixture(scope="module")
def review_dag():
    return DagBag(dag_folder="dags").get_dag("runbook_review")


def test_review_posts_due_failed_and_overrun_runbooks(sandbox, reports_store, review_dag):
    before = len(_slack_messages(sandbox))
    run = review_dag.test(run_conf={"review_date": "2026-11-27", "since_days": 31})
    assert run.state == "success"

    new_texts = _texts(_slack_messages(sandbox)[before:])
    review = next(text for text in new_texts if "Runbook review 2026-11-27" in text)
    assert "Due for review (23)" in review  # every next_review (2025-12-12) has passed
    assert "Failed or missed objectives (1): rollback (1)" in review
    assert "Over estimated time (1): deployment (1)" in review
    assert "restore" not in review.split("Failed", 1)[1]  # its failure predates the window
    assert "deployment 100% / 45.0 min (1), rollback 0% / - (1), scale_up 100% / 4.0 min (1)" in review
    assert any("Monthly runbook review success" in text for text in new_texts)

    markdown = read_report("runbook_review", run.run_id, "markdown")
    assert markdown is not None
    assert "SUCCESS" in markdown
    assert "posted review summary" in markdown
    junit = read_report("runbook_review", run.run_id, "junit")
    assert 'failures="0"' in junit


def test_review_fails_and_reports_when_slack_is_unreachable(sandbox, reports_store, review_dag, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVACRON_SLACK",
        json.dumps(
            {"conn_type": "slack", "password": "xoxb-x", "extra": {"base_url": "http://127.0.0.1:9/api/"}}
        ),
    )
    run = review_dag.test(run_conf={"review_date": "2026-11-27", "since_days": 31})
    assert run.state == "failed"
    markdown = read_report("runbook_review", run.run_id, "markdown")
    assert "FAILED" in markdown
    assert "could not post the review" in markdown
