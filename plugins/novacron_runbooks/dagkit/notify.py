"""Progress notifications through the Slack and PagerDuty providers' notifiers.

A notification that cannot be delivered is logged and recorded on the step's evidence but never fails the
step: a Slack outage must not stop a rollback. Paging goes to PagerDuty only where the runbook's severity is
Critical.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from novacron_runbooks import connections

if TYPE_CHECKING:
    from collections.abc import Mapping

    from novacron_runbooks.catalog import Runbook

log = logging.getLogger(__name__)


def run_label(context: Mapping[str, Any]) -> str:
    dag_run = context["dag_run"]
    return f"{dag_run.dag_id} / {dag_run.run_id}"


def post_slack(context: Mapping[str, Any], runbook_channel: str, text: str) -> bool:
    """Post a message to the runbook's channel; return whether it was delivered."""
    # imported here, not at the top: a DAG file's parse (on every task start) must not load the clients
    from airflow.providers.slack.notifications.slack import SlackNotifier

    notifier = SlackNotifier(slack_conn_id=connections.SLACK_API, channel=runbook_channel, text=text)
    try:
        notifier.notify(context)
    except Exception:
        log.warning("Slack notification to %s failed", runbook_channel, exc_info=True)
        return False
    return True


def page(
    context: Mapping[str, Any],
    runbook: Runbook,
    summary: str,
    *,
    action: str = "trigger",
    details: dict[str, Any] | None = None,
) -> bool:
    """Open (or resolve) a PagerDuty incident for a Critical runbook; return whether it was delivered.

    The dedup key is the run id, so re-running a task does not open a second incident.
    """
    if not runbook.page_pagerduty:
        return False
    from novacron_runbooks.notifiers.pagerduty import RoutedPagerdutyNotifier  # a client: see post_slack

    dag_run = context["dag_run"]
    notifier = RoutedPagerdutyNotifier(
        summary=summary[:1024],
        severity="critical" if runbook.is_critical else "warning",
        source="novacron-runbooks",
        action=action,
        dedup_key=f"{dag_run.dag_id}/{dag_run.run_id}",
        component=runbook.lock_target or runbook.name,
        group=runbook.category,
        custom_details={"runbook": runbook.name, "run_id": dag_run.run_id, **(details or {})},
    )
    try:
        notifier.notify(context)
    except Exception:
        log.warning("PagerDuty event for %s failed", runbook.name, exc_info=True)
        return False
    return True
