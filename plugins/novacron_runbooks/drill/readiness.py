"""Readiness score of a DR runbook: how far its last drill beat the targets, and how recent that drill is.

Formula (one number per DR runbook, 0 to 100)::

    score = 100 * margin_factor * freshness          (0 when the last drill failed)

    margin(x, T)  = clamp(1 - x / T, 0, 1)   for a target T > 0 (x measured: 1 instant, 0 at the target)
                  = 1 if x == 0 else 0       for a target of 0 (nothing acknowledged may be lost)
    margin_factor = 0.5 + 0.5 * min(margin(RTO), margin(RPO))
    freshness     = 1                                 while the drill is at most 31 days old
                  = 1 - (age - 31 days) / 31 days     between 31 and 62 days (linear)
                  = 0                                 from 62 days (about two missed monthly drills)

Why this shape: a drill that met its targets proves the runbook works, so it starts at 50 however thin the
margin; the other 50 reward headroom, judged on the weaker objective because the slower of RTO and RPO is the
one an incident will feel. A monthly drill keeps full freshness; one missed month halves the score by the
end of the second; two missed months, or a failed drill, mean nothing recent shows the runbook works.
"""

from __future__ import annotations

from dataclasses import dataclass

FRESH_DAYS = 31.0
"""A monthly drill: within this age the score is not discounted."""
STALE_DAYS = 62.0
"""From this age (two monthly drills missed) the score is 0."""
FLOOR = 0.5
"""Share of the score a drill earns by meeting its targets at all; the rest rewards the margin."""


@dataclass(frozen=True)
class DrillResult:
    """What one drill of a DR runbook measured, against the catalog's targets (all in seconds)."""

    passed: bool
    rto_seconds: float
    rto_target_seconds: float
    rpo_seconds: float
    rpo_target_seconds: float


def margin(measured: float, target: float) -> float:
    """Headroom left under a target: 1 when nothing was spent, 0 at (or over) the target."""
    if measured < 0:
        raise ValueError(f"a measured time cannot be negative: {measured}")
    if target <= 0:
        return 1.0 if measured == 0 else 0.0
    return min(1.0, max(0.0, 1.0 - measured / target))


def met(result: DrillResult) -> bool:
    """Whether the drill passed: the recovery succeeded and both objectives were met."""
    rpo_ok = result.rpo_seconds <= result.rpo_target_seconds
    return result.passed and result.rto_seconds <= result.rto_target_seconds and rpo_ok


def freshness(age_days: float) -> float:
    """Discount for the drill's age: 1 up to a month, linear to 0 at two months."""
    if age_days < 0:
        raise ValueError(f"a drill cannot be in the future: age {age_days} days")
    if age_days <= FRESH_DAYS:
        return 1.0
    return max(0.0, 1.0 - (age_days - FRESH_DAYS) / (STALE_DAYS - FRESH_DAYS))


def readiness(result: DrillResult | None, age_days: float) -> float:
    """Score 0-100 of a runbook whose last drill gave ``result``, ``age_days`` ago (None: never drilled)."""
    if result is None or not met(result):
        return 0.0
    weakest = min(
        margin(result.rto_seconds, result.rto_target_seconds),
        margin(result.rpo_seconds, result.rpo_target_seconds),
    )
    factor = FLOOR + (1.0 - FLOOR) * weakest
    return round(100.0 * factor * freshness(age_days), 1)
