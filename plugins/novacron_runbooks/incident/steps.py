"""The steps the incident runbooks share after their own diagnosis: plan, branch, hand over, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import TriggerRule
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.incident.children import child_task_id
from novacron_runbooks.release.gates import SERVICE
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

if TYPE_CHECKING:
    from novacron_runbooks.gates.spec import GateSpec

HAND_OVER = "no_automatic_remedy"
VERIFY_WINDOW_SECONDS = 30
"""The gate's rate window, waited out first so it holds only samples taken after the remedy."""


def confirm(gate: GateSpec, what: str, window: str) -> dict[str, Any]:
    """Measure the alert's own symptom over the service now; a passing ``gate`` ends the run as a false alarm.

    No data or an unreachable Prometheus is no reason to stand down: the run goes on to diagnose.
    """
    evidence = current_evidence()
    found = measure(gate.render({"service": SERVICE, "window": window}), PrometheusHook())
    evidence.measure(what, found.value, found.verdict, query=found.query)
    if found.verdict == "success":
        evidence.verdict = "false alarm"
        raise AirflowSkipException(
            f"{what} is {found.value} over {window}, within the threshold: a false alarm or an alert "
            "already resolved"
        )
    return {"value": found.value, "verdict": found.verdict, "reason": found.reason}


def plan(remedy: str | None, why: str, dry_run: bool, **extra: Any) -> dict[str, Any]:
    """Record the policy's choice; a dry run records it as the change it would make."""
    evidence = current_evidence()
    evidence.note(f"remedy: {remedy or 'none'} ({why})")
    if dry_run:
        evidence.change(remedy or "on-call", f"would run {remedy or 'nothing: escalate'}", applied=False)
    return {"remedy": remedy, "why": why, "dry_run": dry_run, **extra}


def branch(chosen: dict[str, Any], children: tuple[str, ...], local: dict[str, str] | None = None) -> str:
    """Return the task to follow: a child run, a step of the runbook itself (``local``), or the hand-over."""
    remedy = chosen["remedy"]
    if chosen["dry_run"] or remedy is None:
        return HAND_OVER
    if remedy in children:
        return child_task_id(remedy)
    return (local or {}).get(remedy, HAND_OVER)


def hand_over(chosen: dict[str, Any]) -> None:
    """End without a remedy: a dry run says what it would have run; otherwise people take over."""
    if chosen["dry_run"]:
        current_evidence().note(f"dry run: would run {chosen['remedy'] or 'no runbook'} ({chosen['why']})")
        return
    current_evidence().verdict = "escalated"
    raise AirflowFailException(
        f"no automatic remedy ({chosen['remedy'] or 'none'}: {chosen['why']}): the on-call takes over; the "
        "escalation ladder goes on while the run stays open"
    )


def verify_gate(task_id: str, gate: GateSpec, channel: str) -> PrometheusGateSensor:
    """Gate that the symptom is gone: ``gate`` over the service, after whichever remedy ran."""
    return PrometheusGateSensor(
        task_id=task_id,
        gate=gate,
        values={"service": SERVICE, "window": f"{VERIFY_WINDOW_SECONDS}s"},
        overrides={"initial_delay_seconds": VERIFY_WINDOW_SECONDS},
        notify_channel=channel,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        retries=0,
    )
