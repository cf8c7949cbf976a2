"""Turn query results into measurement verdicts, and measurements into an analysis phase.

Pure functions and a small state machine, so every rule (empty result, NaN, Inf, limits) is unit-tested
without a Prometheus, and the trigger (deferred) and the sensor (poke mode) share one implementation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from novacron_runbooks.gates.stats import mann_whitney_u

if TYPE_CHECKING:
    from collections.abc import Sequence

    from novacron_runbooks.gates.spec import GateSpec, Policy

Verdict = Literal["success", "failure", "inconclusive", "error"]
Phase = Literal["running", "successful", "failed", "inconclusive", "error"]
_POLICY_VERDICT: dict[str, Verdict] = {"fail": "failure", "pass": "success", "inconclusive": "inconclusive"}


@dataclass
class Measurement:
    """One evaluation of the gate: what was asked, what came back, the verdict and why."""

    at: str
    verdict: Verdict
    reason: str
    query: str
    value: float | list[float] | None = None
    baseline: float | list[float] | None = None
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("value", "baseline"):  # JSON has no NaN/Inf: keep them readable in XCom and reports
            data[key] = _jsonable(data[key])
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _policy(policy: Policy, reason: str) -> tuple[Verdict, str]:
    return _POLICY_VERDICT[policy], f"{reason} (policy: {policy})"


def judge_values(spec: GateSpec, values: Sequence[float]) -> tuple[Verdict, str]:
    """Judge one result: empty and NaN by policy; Inf compares as a number (+Inf latency fails ``<``)."""
    if not values:
        return _policy(spec.on_no_data, "no data")
    if any(math.isnan(v) for v in values):
        return _policy(spec.on_nan, "NaN in result")
    values = list(values)
    if spec.failure is not None and spec.failure.holds(values, "failure"):
        return "failure", f"failure condition {spec.failure.describe('failure')} met"
    if spec.success is not None:
        if spec.success.holds(values, "success"):
            return "success", f"success condition {spec.success.describe('success')} met"
        if spec.failure is not None:
            return "inconclusive", "neither condition met"
        return "failure", f"success condition {spec.success.describe('success')} not met"
    return "success", "failure condition not met"


def judge_comparison(spec: GateSpec, canary: Sequence[float], stable: Sequence[float]) -> tuple[Verdict, str]:
    """Canary against stable by ratio or difference (each side summed to one number)."""
    assert spec.comparison is not None
    comparison = spec.comparison
    if not canary or not stable:
        return _policy(spec.on_no_data, "no data for " + ("canary" if not canary else "stable"))
    c, s = math.fsum(canary), math.fsum(stable)
    if math.isnan(c) or math.isnan(s):
        return _policy(spec.on_nan, "NaN in canary or stable")
    if c <= comparison.floor:
        return "success", f"canary {c:.4g} at or below the floor {comparison.floor:g}"
    if comparison.mode == "difference":
        delta = c - s
        verdict: Verdict = "failure" if delta > comparison.max_allowed else "success"
        return verdict, f"canary - stable = {delta:.4g} (max {comparison.max_allowed:g})"
    ratio = math.inf if s == 0 else c / s
    verdict = "failure" if ratio > comparison.max_allowed else "success"
    return verdict, f"canary / stable = {ratio:.4g} (max {comparison.max_allowed:g})"


def judge_samples(
    spec: GateSpec, canary: Sequence[float], stable: Sequence[float]
) -> tuple[Verdict, str, float | None]:
    """Mann-Whitney U: is the canary stochastically worse than stable? Too few samples is inconclusive."""
    assert spec.comparison is not None
    test = spec.comparison.mann_whitney
    assert test is not None
    canary = [v for v in canary if not math.isnan(v)]
    stable = [v for v in stable if not math.isnan(v)]
    if min(len(canary), len(stable)) < test.min_samples:
        return (
            "inconclusive",
            f"{len(canary)}/{len(stable)} samples, {test.min_samples} needed for Mann-Whitney",
            None,
        )
    result = mann_whitney_u(canary, stable, alternative="greater")
    if result.p_value < test.alpha:
        return (
            "failure",
            f"canary worse than stable (Mann-Whitney p={result.p_value:.3g} < {test.alpha:g})",
            result.p_value,
        )
    return "success", f"no significant difference (Mann-Whitney p={result.p_value:.3g})", result.p_value


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """Return the worst verdict: error, then failure, then inconclusive."""
    for worst in ("error", "failure", "inconclusive"):
        if worst in verdicts:
            return worst  # type: ignore[return-value]
    return "success"


def combine_phases(phases: Sequence[Phase]) -> Phase:
    """Return the phase of gates analysed together: the worst, where a failure outranks an error.

    ``running`` only remains for a gate stopped early because another failed; an empty set has nothing
    against it and is ``successful``.
    """
    for worst in ("failed", "error", "inconclusive", "running"):
        if worst in phases:
            return worst  # type: ignore[return-value]
    return "successful"


@dataclass
class Analysis:
    """Argo Rollouts' AnalysisRun rules over a sequence of measurements."""

    spec: GateSpec
    measurements: list[Measurement] = field(default_factory=list)
    consecutive_errors: int = 0

    def count(self, verdict: Verdict) -> int:
        return sum(1 for m in self.measurements if m.verdict == verdict)

    def record(self, measurement: Measurement) -> Phase:
        self.measurements.append(measurement)
        self.consecutive_errors = self.consecutive_errors + 1 if measurement.verdict == "error" else 0
        return self.phase

    @property
    def phase(self) -> Phase:
        spec = self.spec
        if self.count("failure") > spec.failure_limit:
            return "failed"
        if self.count("inconclusive") > spec.inconclusive_limit:
            return "inconclusive"
        if self.consecutive_errors > spec.consecutive_error_limit:
            return "error"
        measured = len(self.measurements) - self.count("error")
        return "successful" if measured >= spec.count else "running"

    @property
    def decisive(self) -> bool:
        """Whether this analysis alone decides a joint verdict: it failed or errored and is not a shadow."""
        return not self.spec.shadow and self.phase in ("failed", "error")

    @property
    def next_delay_seconds(self) -> float:
        """Errors are retried soon (argo-rollouts#1008); a real measurement waits for the interval."""
        last = self.measurements[-1] if self.measurements else None
        if last is not None and last.verdict == "error":
            return min(
                self.spec.error_retry_seconds, self.spec.interval_seconds or self.spec.error_retry_seconds
            )
        return self.spec.interval_seconds

    def summary(self) -> dict[str, Any]:
        return {
            "gate": self.spec.name,
            "phase": self.phase,
            "shadow": self.spec.shadow,
            "counts": {v: self.count(v) for v in ("success", "failure", "inconclusive", "error")},
            "measurements": [m.to_dict() for m in self.measurements],
        }
