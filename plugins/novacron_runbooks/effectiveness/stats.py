"""How well each runbook works over a window: pure arithmetic on :class:`RunRecord` s, unit-tested.

Definitions (one set for the weekly effectiveness job and the monthly review):

- a *remediation* is a run that was neither a dry run (``dry_run`` true changes nothing) nor a false alarm
  (an incident runbook whose ``confirm`` found no symptom ends there); both are counted on their own;
- a remediation *succeeded* when its report's outcome is ``success``; any other outcome (``failed``,
  ``missed-target``, ``rolled-back``, ``rejected``) is a failure, as it is for Airflow (``run_report`` fails
  those runs);
- *success ratio* = successes / remediations (none when there were no remediations);
- *time to resolve* of a successful remediation: from the alert's ``starts_at`` (when an alert started it)
  or the run's start, to its end; the median and p90 are linear-interpolation quantiles (numpy's default);
- a remediation *overran* when its own duration (start to end) exceeded the catalog's time budget
  (:attr:`Runbook.time_budget`, the estimated time or RTO).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime


SUCCESS = "success"
QUANTILES = (0.5, 0.9)


def quantile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        raise ValueError(f"quantile {q} is not within 0..1")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class RunRecord:
    """One finished run of a runbook, as its report recorded it."""

    run_id: str
    started: datetime
    finished: datetime
    outcome: str
    dry_run: bool = False
    false_alarm: bool = False
    alert_started: datetime | None = None
    """The alert's ``starts_at`` when an alert started the run (never later than the run's start)."""

    @property
    def duration_seconds(self) -> float:
        """Start to end of the run: what the catalog's estimated time is about."""
        return (self.finished - self.started).total_seconds()

    @property
    def resolve_seconds(self) -> float:
        """Time to resolve: from the alert's start when an alert started the run, else the run's start."""
        return (self.finished - (self.alert_started or self.started)).total_seconds()


@dataclass(frozen=True)
class RunbookEffectiveness:
    """One runbook's figures over one window."""

    runbook: str
    budget_seconds: float | None
    runs: int = 0
    """Remediations: runs that were neither dry runs nor false alarms."""
    successes: int = 0
    dry_runs: int = 0
    false_alarms: int = 0
    time_to_resolve: dict[str, float] = field(default_factory=dict)
    """Seconds by quantile (``"0.5"``, ``"0.9"``) over successful remediations; empty without any."""
    failed_runs: list[str] = field(default_factory=list)
    overrun_runs: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.runs - self.successes

    @property
    def success_ratio(self) -> float | None:
        return self.successes / self.runs if self.runs else None

    @property
    def attention(self) -> bool:
        """Whether a person should look: a failed remediation or one over the time budget."""
        return bool(self.failed_runs or self.overrun_runs)


def summarize(
    runbook: str, budget_seconds: float | None, records: Iterable[RunRecord]
) -> RunbookEffectiveness:
    """Compute a runbook's figures from the records of its runs in the window (already filtered)."""
    dry_runs = false_alarms = 0
    resolved: list[float] = []
    failed: list[str] = []
    overran: list[str] = []
    for record in records:
        if record.dry_run:
            dry_runs += 1
            continue
        if record.false_alarm and record.outcome == SUCCESS:
            false_alarms += 1
            continue
        if record.outcome == SUCCESS:
            resolved.append(record.resolve_seconds)
        else:
            failed.append(record.run_id)
        if budget_seconds is not None and record.duration_seconds > budget_seconds:
            overran.append(record.run_id)
    return RunbookEffectiveness(
        runbook=runbook,
        budget_seconds=budget_seconds,
        runs=len(resolved) + len(failed),
        successes=len(resolved),
        dry_runs=dry_runs,
        false_alarms=false_alarms,
        time_to_resolve={str(q): quantile(resolved, q) for q in QUANTILES} if resolved else {},
        failed_runs=failed,
        overrun_runs=overran,
    )


def figures_of(item: RunbookEffectiveness) -> dict[str, Any]:
    """Return the figures as a run report shows them (seconds rounded; ``None`` where undefined)."""
    resolve = {
        f"time_to_resolve_p{round(float(q) * 100)}_seconds": round(s, 1)
        for q, s in item.time_to_resolve.items()
    }
    ratio = item.success_ratio
    return {
        "runs": item.runs,
        "successes": item.successes,
        "success_ratio": None if ratio is None else round(ratio, 3),
        **resolve,
        "time_budget_seconds": item.budget_seconds,
        "dry_runs": item.dry_runs,
        "false_alarms": item.false_alarms,
        "failed": item.failed_runs,
        "overran": item.overrun_runs,
    }
