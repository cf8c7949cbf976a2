"""The game day's scenarios as data: the fault, the alert that must fire, the runbook that must resolve it.

Which alert a fault fires follows from the rules' expressions (``include/alerts/novacron-runbooks.yml``):

- ``latency``: 800 ms on every answer puts the service's request p95 over 500 ms → ``HighLatency`` →
  ``high_latency``.
- ``db_pool_exhausted``: 95% of the API's pool held by ``pg_sleep`` sessions puts ``in_use / max`` over 90% →
  ``DatabaseConnectionPoolSaturated`` → ``database_issues``.
- ``replica_stopped``: no ``pg_stat_replication`` row while the primary is up → ``ReplicationLagHigh`` →
  ``database_issues``.
- ``pods_killed``: the live colour's pods killed and their replacements crashing leave no ready pod behind the
  Service; the API answers 503 to every request → ``HighErrorRate`` → ``high_error_rate``. ``ServiceDown``
  does not fire: it counts the API's scrape targets, and the front end keeps answering its ``/metrics``.

The runbook's response time is its catalog ``response_time``; an "Immediate" runbook (no minutes) must be done
before its ladder escalates past the on-call engineer (the first rung's ``until_minutes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from novacron_runbooks.catalog import Runbook, catalog_runbook, default_catalog


@dataclass(frozen=True)
class Scenario:
    """One fault of the game day and what the platform must do about it."""

    name: str
    fault: str
    alert: str
    runbook: str


SCENARIOS = (
    Scenario(
        "latency", "800 ms added to every API answer (stand-in latency_ms)", "HighLatency", "high_latency"
    ),
    Scenario(
        "db_pool_exhausted",
        "95% of the API's database pool held (stand-in db_pool_pressure)",
        "DatabaseConnectionPoolSaturated",
        "database_issues",
    ),
    Scenario("replica_stopped", "the streaming replica shut down", "ReplicationLagHigh", "database_issues"),
    Scenario(
        "pods_killed",
        "the live colour's pods killed, their replacements crashing",
        "HighErrorRate",
        "high_error_rate",
    ),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def response_seconds_of(runbook: Runbook) -> float:
    """Return how long the runbook may take to resolve its incident, in seconds (see the module doc)."""
    response = runbook.response_time
    if response is not None and response.max_minutes is not None:
        return response.max_minutes * 60.0
    first = next((level for level in runbook.escalation if level.until_minutes is not None), None)
    if response is not None and response.immediate and first is not None:
        return float(first.until_minutes or 0) * 60.0
    raise ValueError(f"{runbook.source_file}: no response time in minutes and no first escalation rung")


def response_seconds(scenario: Scenario) -> float:
    return response_seconds_of(catalog_runbook(scenario.runbook))


def check_table() -> None:
    """Fail when a scenario names a runbook the catalog lacks or an alert its runbook is not triggered by."""
    catalog = default_catalog()
    for scenario in SCENARIOS:
        runbook = catalog.get(scenario.runbook)
        if scenario.alert not in runbook.trigger_alerts:
            raise ValueError(
                f"scenario {scenario.name}: {scenario.runbook} is not triggered by {scenario.alert} "
                f"(its alerts: {', '.join(runbook.trigger_alerts)})"
            )
        response_seconds_of(runbook)
