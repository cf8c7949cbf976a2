"""Turn one checked notification into runbook runs: map, deduplicate, apply the breaker, record resolutions.

Alerts are handled per (group, runbook): the first firing alert (earliest ``startsAt``) becomes the run's
``alert`` param and the others of the group join that run. One lock per runbook in this process makes the
breaker's count and the run's creation one step for concurrent deliveries; across API server workers the
deterministic run id does the same (see ``runs``). Every outcome is logged and returned to Alertmanager.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.utils.session import create_session
from sqlalchemy.exc import OperationalError

from novacron_runbooks.alerts.specs import SPECS
from novacron_runbooks.bridge import note, runs
from novacron_runbooks.bridge.labels import LABEL_PATTERNS, LabelError, alert_param, check_alert
from novacron_runbooks.bridge.policy import decide, load_policy
from novacron_runbooks.catalog import default_catalog, scheduled_job

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.bridge.payload import Alert, Notification
    from novacron_runbooks.bridge.policy import Decision, Policy
    from novacron_runbooks.catalog import Runbook

log = logging.getLogger(__name__)
RETRIES = 4
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
UNAVAILABLE = "unavailable"
"""An alert whose runbook's DAG is not served right now: the notification is answered 503, to come again."""
ROUTED_JOBS = frozenset(spec.route_to for spec in SPECS if spec.route_to)
"""Scheduled jobs an alert rule names as its runbook (the daily test restore), started like runbooks."""


def _definition(name: str) -> Runbook:
    """Return the catalog runbook, or the scheduled job an alert rule routes to."""
    return scheduled_job(name) if name in ROUTED_JOBS else default_catalog().get(name)


@dataclass
class Outcome:
    """What the bridge did with one alert of the notification."""

    fingerprint: str
    alertname: str
    # started | grouped | deduplicated | rejected | unavailable | resolved_recorded | resolved_unmatched
    status: str
    runbook: str = ""
    run_id: str = ""
    reason: str = ""
    dry_run: bool | None = None
    breaker_open: bool | None = None
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, "")}


def _now() -> datetime:
    return datetime.now(UTC)


def _map(alert: Alert) -> tuple[str, Outcome | None]:
    """Return the alert's runbook, or a rejection naming why it starts nothing."""
    name = alert.labels.get("alertname", "")
    if not re.fullmatch(LABEL_PATTERNS["alertname"], name):
        name = ""  # refused below; never echoed into the answer or the log
    try:
        runbook = check_alert(alert)
    except LabelError as exc:
        return "", Outcome(alert.fingerprint, name, "rejected", reason=str(exc))
    if runbook not in default_catalog() and runbook not in ROUTED_JOBS:
        return "", Outcome(
            alert.fingerprint, name, "rejected", runbook, reason="not a runbook of the catalog"
        )
    return runbook, None


def handle(notification: Notification, received: float) -> list[Outcome]:
    """Handle every alert of ``notification``; ``received`` is ``time.monotonic()`` at the request."""
    policy = load_policy()
    outcomes: list[Outcome] = []
    firing: defaultdict[str, list[Alert]] = defaultdict(list)
    resolved: defaultdict[str, list[Alert]] = defaultdict(list)
    for alert in notification.alerts:
        runbook, rejected = _map(alert)
        if rejected is not None:
            outcomes.append(rejected)
        else:
            (firing if alert.status == "firing" else resolved)[runbook].append(alert)
    for runbook, alerts in sorted(firing.items()):
        with _locks[runbook]:
            outcomes.extend(_retried(_fire, notification.groupKey, runbook, alerts, policy, received))
    for runbook, alerts in sorted(resolved.items()):
        with _locks[runbook]:
            outcomes.extend(_retried(_resolve, notification.groupKey, runbook, alerts))
    for outcome in outcomes:
        log.info("alertmanager bridge: %s", outcome.as_dict())
    return outcomes


def _retried(step: Callable[..., list[Outcome]], *args: Any) -> list[Outcome]:
    """Run one group's step again when the database is busy (SQLite's "database is locked").

    Each attempt is its own transaction and the run id is deterministic, so a retry never starts a second
    run; after the last attempt the error reaches Alertmanager as a 500 and Alertmanager retries.
    """
    for attempt in range(RETRIES):
        try:
            return step(*args)
        except OperationalError as exc:
            if attempt == RETRIES - 1:
                raise
            log.warning("alertmanager bridge: database busy (%s), attempt %d", exc.orig, attempt + 1)
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _all(alerts: list[Alert], runbook: str, status: str, **fields: Any) -> list[Outcome]:
    return [
        Outcome(alert.fingerprint, alert.labels["alertname"], status, runbook, **fields) for alert in alerts
    ]


def _fire(
    group_key: str, runbook: str, alerts: list[Alert], policy: Policy, received: float
) -> list[Outcome]:
    first = min(alerts, key=lambda alert: alert.startsAt)
    group = runs.group_hash(group_key)
    run_id = runs.run_id_for(group_key, first.startsAt)
    with create_session(scoped=False) as session:
        try:
            dag, paused = runs.target_dag(session, runbook)
        except runs.Refused as exc:
            return _all(alerts, runbook, "rejected", reason=str(exc))
        except runs.NotServed as exc:
            return _all(alerts, runbook, UNAVAILABLE, reason=f"{exc}; Alertmanager delivers it again")
        active = runs.active_run(session, runbook, group) or runs.get_run(session, runbook, run_id)
        if active is not None:
            active.note = note.with_repeat(active.note, _now())
            reason = f"the group's run is {active.state}; repeat recorded on its note"
            return _all(alerts, runbook, "deduplicated", run_id=active.run_id, reason=reason)
        count = runs.started_since(session, runbook, policy.window)
        decision = decide(policy, runbook, count, mutating=_definition(runbook).mutating)
        conf = _conf(dag.params, first, group_key, decision)
        severity = first.labels.get("severity", "")
        text = note.started_note(first.labels["alertname"], severity, group, decision.reason, _now())
        try:
            runs.start_run(session, dag, run_id, conf, text)
        except runs.AlreadyStarted:
            return _all(
                alerts, runbook, "deduplicated", run_id=run_id, reason="started by a concurrent delivery"
            )
        except ValueError as exc:
            session.rollback()
            return _all(alerts, runbook, "rejected", reason=f"the runbook's params refused the alert: {exc}")
    latency = round((time.monotonic() - received) * 1000, 1)
    if paused:
        waits = "DAG is paused: the run waits until it is unpaused"
        decision = replace(decision, reason=f"{decision.reason}; {waits}")
    return _started(alerts, first, runbook, run_id, decision, latency)


def _started(
    alerts: list[Alert], first: Alert, runbook: str, run_id: str, decision: Decision, latency: float
) -> list[Outcome]:
    """Answer for a new run: the alert it was started from, and the group's other alerts joining it."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "dry_run": decision.dry_run,
        "breaker_open": decision.breaker_open,
    }
    name = first.labels["alertname"]
    started = Outcome(first.fingerprint, name, "started", runbook, reason=decision.reason, **fields)
    started.latency_ms = latency
    others = [alert for alert in alerts if alert is not first]
    return [started, *_all(others, runbook, "grouped", reason="joined the group's run", **fields)]


def _conf(declared: Any, first: Alert, group_key: str, decision: Decision) -> dict[str, Any]:
    """Build the run's conf: the alert, and ``dry_run`` set explicitly wherever the runbook has one."""
    conf: dict[str, Any] = {"alert": alert_param(first, group_key, breaker_open=decision.breaker_open)}
    if "dry_run" in declared:
        conf["dry_run"] = decision.dry_run
    if "reason" in declared:
        conf["reason"] = f"Alertmanager: {first.labels['alertname']}, group {runs.group_hash(group_key)}"
    return conf


def _resolve(group_key: str, runbook: str, alerts: list[Alert]) -> list[Outcome]:
    group = runs.group_hash(group_key)
    with create_session(scoped=False) as session:
        run = runs.active_run(session, runbook, group) or runs.latest_run(session, runbook, group)
        if run is None:
            return _all(
                alerts, runbook, "resolved_unmatched", reason="no run of this alert group to record on"
            )
        text = run.note
        for alert in alerts:
            text = note.with_resolved(text, alert.labels["alertname"], alert.fingerprint, alert.endsAt)
        run.note = text
        return _all(
            alerts, runbook, "resolved_recorded", run_id=run.run_id, reason="recorded on the run's note"
        )
