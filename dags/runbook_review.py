"""Monthly runbook review: runbooks due for review, and runbooks that failed or overran since the last review.

The index's review cycle asks the team to update runbooks monthly based on incidents. This DAG reads the
catalog's review dates and the run reports, posts the summary to the SRE channel and writes its own report.
It changes nothing, so it is safe to re-run at any time.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import get_current_context

from novacron_runbooks.catalog import default_catalog, scheduled_job
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.review import review_catalog, summary_text

JOB = scheduled_job("runbook_review")


def _review_window(params: dict[str, Any]) -> tuple[date, datetime]:
    """As-of date and start of the period: the run's own month when scheduled, ``since_days`` otherwise."""
    context = get_current_context()
    as_of = params["review_date"]
    today = date.fromisoformat(as_of) if as_of else datetime.now(tz=UTC).date()
    start = context.get("data_interval_start")
    if context["dag_run"].run_type == "scheduled" and start is not None:
        return today, start
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    return today, midnight - timedelta(days=params["since_days"])


with runbook_dag(JOB.name, runbook=JOB, schedule="@monthly"):

    @runbook_step
    def review_runbooks(params: dict[str, Any]) -> dict[str, Any]:
        """Check every catalog entry's review date and its runs since the last review."""
        today, since = _review_window(params)
        findings = review_catalog(default_catalog(), today, since)
        evidence = current_evidence()
        for item in findings:
            verdict = "attention" if item.needs_attention else "ok"
            counts = {"due": item.due, "runs": item.runs, "failed": item.failed_runs}
            evidence.measure(item.name, {**counts, "overran": item.overrun_runs}, verdict)
        return {"text": summary_text(findings, today, since), "findings": [asdict(f) for f in findings]}

    @runbook_step
    def post_summary(review: dict[str, Any]) -> str:
        """Post the review to the SRE channel; a failed post fails the step (the post is the output)."""
        if not post_slack(get_current_context(), JOB.owner.slack_channel, review["text"]):
            raise RuntimeError(f"could not post the review to {JOB.owner.slack_channel}")
        current_evidence().change(JOB.owner.slack_channel, "posted review summary", applied=True)
        return str(review["text"])

    post_summary(review_runbooks())
