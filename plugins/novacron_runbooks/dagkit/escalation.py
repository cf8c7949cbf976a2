"""Escalation timers on the index's ladder, as Airflow deadline alerts.

Each rung with an ``after_minutes`` above zero becomes a :class:`DeadlineAlert` measured from when the run was
queued. Airflow cancels the deadline when the run finishes first, so a level is only reached while the run is
still unresolved, exactly the index's rule "escalate if stuck for more than 15 minutes". The callback runs in
the triggerer and posts the escalation to Slack (mentioning the role) and, for Critical runbooks, to PagerDuty
on the run's incident.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from novacron_runbooks import connections

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook

log = logging.getLogger(__name__)


async def escalate(
    *,
    runbook: str,
    level: int,
    role: str,
    after_minutes: float,
    channel: str,
    page: bool,
    context: dict[str, Any] | None = None,
) -> None:
    """Announce that a run reached an escalation level (deadline-alert callback, runs in the triggerer)."""
    # imported here, not at the top: a DAG file's parse (on every task start) must not load the clients
    from airflow.providers.slack.notifications.slack import SlackNotifier

    from novacron_runbooks.notifiers.pagerduty import RoutedPagerdutyNotifier

    dag_run = (context or {}).get("dag_run", {})
    # the scheduler passes the REST model of the run (``dag_run_id``), not the task context's DagRun
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id") or "?"
    text = (
        f":rotating_light: {runbook} run {run_id} is unresolved after {after_minutes:g} min: "
        f"escalating to level {level}, {role}."
    )
    await SlackNotifier(slack_conn_id=connections.SLACK_API, channel=channel, text=text).async_notify({})
    if page:
        await RoutedPagerdutyNotifier(
            summary=text,
            severity="critical",
            source="novacron-runbooks",
            dedup_key=f"{runbook}/{run_id}",
            custom_details={"escalation_level": level, "role": role},
        ).async_notify({})
    log.info("escalated %s/%s to level %s (%s)", runbook, run_id, level, role)


def escalation_deadlines(runbook: Runbook) -> list[DeadlineAlert]:
    """Deadline alerts for every timed rung of the runbook's ladder (none when escalation is off)."""
    if not runbook.escalate:
        return []
    alerts = []
    for rung in runbook.escalation:
        if not rung.after_minutes or rung.major_incident_only:
            continue
        alerts.append(
            DeadlineAlert(
                reference=DeadlineReference.DAGRUN_QUEUED_AT,
                interval=timedelta(minutes=rung.after_minutes),
                callback=AsyncCallback(
                    escalate,
                    kwargs={
                        "runbook": runbook.name,
                        "level": rung.level,
                        "role": rung.role,
                        "after_minutes": rung.after_minutes,
                        "channel": runbook.owner.slack_channel,
                        "page": runbook.page_pagerduty,
                    },
                ),
                name=f"escalate-level-{rung.level}",
            )
        )
    return alerts
