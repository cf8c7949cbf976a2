"""Publish a drill's result per DR runbook under the names of :mod:`novacron_runbooks.alerts.contract`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.alerts import contract
from novacron_runbooks.drill.readiness import met

if TYPE_CHECKING:
    from novacron_runbooks.drill.readiness import DrillResult
    from novacron_runbooks.hooks.pushgateway import PushgatewayHook


def publish_drill(
    hook: PushgatewayHook, runbook: str, result: DrillResult, lost_rows: int, score: float, at: float
) -> list[str]:
    """Push one runbook's drill figures; the last-success time only when the drill passed.

    A failed drill leaves the previous success time in place, so the age of the last successful drill keeps
    growing until one passes again.
    """
    passed = met(result)
    gauges: dict[str, tuple[str, float]] = {
        contract.DRILL_PASSED: (
            "1 when the last drill recovered within both targets, else 0.",
            float(passed),
        ),
        contract.DRILL_RTO_SECONDS: (
            "Measured RTO of the last drill: fault to verified end.",
            result.rto_seconds,
        ),
        contract.DRILL_RTO_TARGET_SECONDS: ("The runbook's RTO target (catalog).", result.rto_target_seconds),
        contract.DRILL_RPO_SECONDS: (
            "Measured RPO of the last drill: acknowledged commits lost.",
            result.rpo_seconds,
        ),
        contract.DRILL_RPO_TARGET_SECONDS: ("The runbook's RPO target (catalog).", result.rpo_target_seconds),
        contract.DRILL_LOST_ROWS: (
            "Acknowledged rows missing after the last drill's recovery.",
            float(lost_rows),
        ),
        contract.DRILL_READINESS: ("Readiness score 0-100 at the last drill's end.", score),
    }
    if passed:
        gauges[contract.DRILL_LAST_SUCCESS] = ("Unix time the runbook's last passed drill ended.", at)
    hook.push(contract.DRILL_PUSH_JOB, gauges, {"runbook": runbook})
    return sorted(gauges)
