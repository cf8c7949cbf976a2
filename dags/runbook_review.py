"""Monthly runbook review: runbooks due for review, and runbooks that failed or overran since the last review.

The index's review cycle asks the team to update runbooks monthly based on incidents. This DAG reads the
catalog's review dates and the run reports, posts the summary to the SRE channel and writes its own report,
with each runbook's success rate and time to resolve over the month (the figures of
``novacron_runbooks.effectiveness``, the same the weekly ``runbook_effectiveness`` job publishes).
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
from novacron_runbooks.effectiveness.history import Window
from novacron_runbooks.effectiveness.stats import figures_of
from novacron_runbooks.review import review_catalog, summary_text

JOB = scheduled_job("runbook_review")


def _review_window(params: dict[str, Any]) -> tuple[date, Window]:
    """As-of date and period: the run's own month when scheduled, the last ``since_days`` otherwise."""
    context = get_current_context()
    as_of = params["review_date"]
    today = date.fromisoformat(as_of) if as_of else datetime.now(tz=UTC).date()
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if context["dag_run"].run_type == "scheduled" and start is not None:
        return today, Window(start, end, "month")
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    return today, Window(midnight - timedelta(days=params["since_days"]), None, f"{params['since_days']}d")


with runbook_dag(JOB.name, runbook=JOB, schedule="@monthly"):

    @runbook_step
    def review_runbooks(params: dict[str, Any]) -> dict[str, Any]:
        """Check every catalog entry's review date and its runs since the last review."""
        today, window = _review_window(params)
        findings = review_catalog(default_catalog(), today, window)
        evidence = current_evidence()
        for item in findings:
            verdict = "attention" if item.needs_attention else "ok"
            evidence.measure(item.name, {"due": item.due, **figures_of(item.effectiveness)}, verdict)
        return {"text": summary_text(findings, today, window), "findings": [asdict(f) for f in findings]}

    @runbook_step
    def post_summary(review: dict[str, Any]) -> str:
        """Post the review to the SRE channel; a failed post fails the step (the post is the output)."""
        if not post_slack(get_current_context(), JOB.owner.slack_channel, review["text"]):
            raise RuntimeError(f"could not post the review to {JOB.owner.slack_channel}")
        current_evidence().change(JOB.owner.slack_channel, "posted review summary", applied=True)
        return str(review["text"])

    post_summary(review_runbooks())
