"""Publish one window's effectiveness figures under the names of :mod:`novacron_runbooks.alerts.contract`.

One push per window replaces the window's whole Pushgateway group, so a runbook without successes this
window has no time-to-resolve series instead of last week's, and a dashboard reads one consistent week.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.alerts import contract

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from prometheus_client import CollectorRegistry

    from novacron_runbooks.effectiveness.stats import RunbookEffectiveness
    from novacron_runbooks.hooks.pushgateway import PushgatewayHook


def effectiveness_registry(
    figures: Sequence[RunbookEffectiveness], window_end: datetime
) -> CollectorRegistry:
    """Build the gauges of one window; series without a defined value (no runs, no success) are left out."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    runs = Gauge(
        contract.RUNBOOK_RUNS, "Runs in the window by result.", ["runbook", "result"], registry=registry
    )
    ratio = Gauge(
        contract.RUNBOOK_SUCCESS_RATIO,
        "Successes / remediations in the window.",
        ["runbook"],
        registry=registry,
    )
    resolve = Gauge(
        contract.RUNBOOK_TIME_TO_RESOLVE,
        "Time to resolve of successful remediations: alert (else run) start to run end.",
        ["runbook", "quantile"],
        registry=registry,
    )
    overrun = Gauge(
        contract.RUNBOOK_OVERRUN_RUNS,
        "Remediations over the catalog's time budget.",
        ["runbook"],
        registry=registry,
    )
    budget = Gauge(contract.RUNBOOK_TIME_BUDGET, "The catalog's time budget.", ["runbook"], registry=registry)
    for item in figures:
        for result, count in (
            ("success", item.successes),
            ("failure", item.failures),
            ("dry_run", item.dry_runs),
            ("false_alarm", item.false_alarms),
        ):
            runs.labels(item.runbook, result).set(count)
        overrun.labels(item.runbook).set(len(item.overrun_runs))
        if item.success_ratio is not None:
            ratio.labels(item.runbook).set(item.success_ratio)
        for q, seconds in item.time_to_resolve.items():
            resolve.labels(item.runbook, q).set(seconds)
        if item.budget_seconds is not None:
            budget.labels(item.runbook).set(item.budget_seconds)
    Gauge(contract.RUNBOOK_WINDOW_END, "Where the window ends (Unix time).", registry=registry).set(
        window_end.timestamp()
    )
    return registry


def publish_effectiveness(
    hook: PushgatewayHook, figures: Sequence[RunbookEffectiveness], window: str, window_end: datetime
) -> list[str]:
    """Replace the window's group with these figures; return the names of the metrics pushed."""
    registry = effectiveness_registry(figures, window_end)
    hook.push_registry(contract.EFFECTIVENESS_PUSH_JOB, registry, {"window": window}, replace=True)
    return sorted(metric.name for metric in registry.collect())
