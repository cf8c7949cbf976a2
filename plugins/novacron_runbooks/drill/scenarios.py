"""The drill's scenarios: which DR runbook each one exercises, and the targets it is scored against.

The targets come from the catalog entry of the DR runbook (``thresholds.rto``/``thresholds.rpo``, else its
``rto``/``rpo`` fields), never from this module. A point-in-time runbook (data corruption) has no RPO in
minutes: it promises to restore to the moment before the damage, so its target is that nothing acknowledged
before that moment is lost (0 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from novacron_runbooks.catalog import catalog_runbook

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook

SCENARIOS = ("database_failure", "data_corruption", "service_failure")
DR_RUNBOOK = {
    "database_failure": "dr_database_failure",
    "data_corruption": "dr_data_corruption",
    "service_failure": "dr_service_failure",
}
WRITES = {"database_failure": True, "data_corruption": True, "service_failure": False}
"""Whether the scenario runs the writer: the application is stateless, so a service failure has no rows."""


@dataclass(frozen=True)
class Targets:
    """RTO and RPO targets of one DR runbook, in seconds."""

    rto_seconds: float
    rpo_seconds: float


def _minutes(runbook: Runbook, name: str) -> float | None:
    if name in runbook.thresholds:
        threshold = runbook.threshold(name)
        if threshold.unit != "minutes":
            raise ValueError(f"{runbook.source_file}: thresholds.{name} is in {threshold.unit}, not minutes")
        return threshold.value
    return None


def targets_of(runbook: Runbook) -> Targets:
    """Read a DR runbook's RTO and RPO targets from its catalog entry."""
    rto = _minutes(runbook, "rto")
    if rto is None and runbook.rto is not None:
        rto = runbook.rto.max_minutes
    if rto is None:
        raise ValueError(f"{runbook.source_file}: no RTO target (thresholds.rto or rto.max_minutes)")
    rpo = _minutes(runbook, "rpo")
    if rpo is None and runbook.rpo is not None:
        rpo = 0.0 if runbook.rpo.point_in_time else runbook.rpo.max_minutes
    if rpo is None:
        raise ValueError(f"{runbook.source_file}: no RPO target (thresholds.rpo or rpo)")
    return Targets(rto_seconds=rto * 60.0, rpo_seconds=rpo * 60.0)


def targets(scenario: str) -> Targets:
    return targets_of(catalog_runbook(DR_RUNBOOK[scenario]))
