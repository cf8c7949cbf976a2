"""What a metric gate is: its query, conditions, schedule, limits and policies, as plain serialisable data.

The semantics follow Argo Rollouts' AnalysisTemplate (interval, count, initial delay, failure/inconclusive/
consecutive-error limits with Argo's defaults 0/0/4), with what its and Flagger's users still ask for: an
explicit no-data and NaN policy (default: fail), a per-gate on-fail action (abort, pause for a person, retry
once, freeze), shadow gates that only record, a canary-versus-stable comparison with an optional Mann-Whitney
test, and a computed worst-case time to a verdict that a DAG checks against its runbook's budget.
"""

from __future__ import annotations

import math
import operator
import string
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from novacron_runbooks import connections
from novacron_runbooks.gates.promql import PromQLTemplate

if TYPE_CHECKING:
    from collections.abc import Callable

Op = Literal["<", "<=", ">", ">=", "==", "!="]
Reduce = Literal["all", "any", "max", "min", "sum", "avg"]
Policy = Literal["fail", "pass", "inconclusive"]
OnFail = Literal["abort", "pause", "retry_once", "freeze"]

_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "max": max,
    "min": min,
    "sum": math.fsum,
    "avg": lambda v: math.fsum(v) / len(v),
}
POLICIES = ("fail", "pass", "inconclusive")
ON_FAIL = ("abort", "pause", "retry_once", "freeze")


class GateConfigError(ValueError):
    """A gate is misconfigured; raised before any query runs, naming the field."""

    def __init__(self, gate: str, field: str, message: str) -> None:
        self.gate = gate
        self.field = field
        super().__init__(f"gate {gate!r}: {field}: {message}")


@dataclass(frozen=True)
class Condition:
    """``<reduce>(result) <op> threshold``; ``all``/``any`` apply the comparison to every sample.

    Without ``reduce`` the safe reading applies: a success condition must hold for **all** series, a failure
    condition fails the measurement when it holds for **any** series (one bad pod is enough to fail).
    """

    op: Op
    threshold: float
    reduce: Reduce | None = None

    def holds(self, values: list[float], role: Literal["success", "failure"]) -> bool:
        reduce = self.reduce or ("all" if role == "success" else "any")
        compare = _OPS[self.op]
        if reduce == "all":
            return all(compare(v, self.threshold) for v in values)
        if reduce == "any":
            return any(compare(v, self.threshold) for v in values)
        return bool(compare(_REDUCERS[reduce](values), self.threshold))

    def describe(self, role: Literal["success", "failure"]) -> str:
        reduce = self.reduce or ("all" if role == "success" else "any")
        return f"{reduce}(result) {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class MannWhitney:
    """Kayenta-style test: canary samples stochastically greater (worse) than stable, at ``alpha``.

    Samples come from range queries over the last ``window_seconds`` at ``step_seconds``: at a 5 s step, 50
    samples take about four minutes rather than Kayenta's recommended hours.
    """

    window_seconds: float = 300
    step_seconds: float = 5
    min_samples: int = 50
    alpha: float = 0.05


@dataclass(frozen=True)
class Comparison:
    """Compare the gate's query (the canary) with ``baseline_query`` (stable) by ratio or difference.

    ``floor``: a canary value at or below it passes whatever the baseline (an idle stable must not fail a
    healthy canary on a 0/0 ratio).
    """

    baseline_query: str
    mode: Literal["ratio", "difference"]
    max_allowed: float
    floor: float = 0.0
    mann_whitney: MannWhitney | None = None


@dataclass(frozen=True)
class GateSpec:
    """One metric gate. ``query`` may hold ``$placeholders`` whose kinds are in ``placeholders``."""

    name: str
    query: str
    success: Condition | None = None
    failure: Condition | None = None
    placeholders: dict[str, str] = field(default_factory=dict)
    interval_seconds: float = 0.0
    count: int = 1
    initial_delay_seconds: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4
    error_retry_seconds: float = 10.0
    query_timeout_seconds: float = 10.0
    on_no_data: Policy = "fail"
    on_nan: Policy = "fail"
    on_fail: OnFail = "abort"
    shadow: bool = False
    comparison: Comparison | None = None
    prometheus_conn_id: str = connections.PROMETHEUS

    # -- validation ----------------------------------------------------------------------------------------
    def validate(self) -> GateSpec:
        """Check every field; return self so calls chain. Raises :class:`GateConfigError`."""

        def bad(field_name: str, message: str) -> GateConfigError:
            return GateConfigError(self.name or "?", field_name, message)

        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise bad("name", "must be a non-empty identifier")
        if not self.query.strip():
            raise bad("query", "is empty")
        if self.success is None and self.failure is None and self.comparison is None:
            raise bad("success", "a gate needs a success or failure condition, or a comparison")
        for label, cond in (("success", self.success), ("failure", self.failure)):
            if cond is not None and (
                cond.op not in _OPS or cond.reduce not in {None, "all", "any", *_REDUCERS}
            ):
                raise bad(label, f"unknown op or reduce in {cond}")
            if cond is not None and math.isnan(cond.threshold):
                raise bad(f"{label}.threshold", "is NaN")
        if self.count < 1:
            raise bad("count", "must be at least 1")
        if self.count > 1 and self.interval_seconds <= 0:
            raise bad("interval_seconds", "count > 1 needs an interval (as in Argo Rollouts)")
        for name in ("interval_seconds", "initial_delay_seconds", "error_retry_seconds"):
            if getattr(self, name) < 0:
                raise bad(name, "must not be negative")
        for name in ("failure_limit", "inconclusive_limit", "consecutive_error_limit"):
            if getattr(self, name) < 0:
                raise bad(name, "must not be negative")
        if not 0 < self.query_timeout_seconds <= 120:
            raise bad("query_timeout_seconds", "must be in (0, 120]")
        for name in ("on_no_data", "on_nan"):
            if getattr(self, name) not in POLICIES:
                raise bad(name, f"must be one of {POLICIES}")
        if self.on_fail not in ON_FAIL:
            raise bad("on_fail", f"must be one of {ON_FAIL}")
        if self.comparison is not None:
            if self.comparison.mode not in ("ratio", "difference"):
                raise bad("comparison.mode", "must be ratio or difference")
            mwu = self.comparison.mann_whitney
            if mwu is not None and (mwu.min_samples < 3 or not 0 < mwu.alpha < 1 or mwu.step_seconds <= 0):
                raise bad("comparison.mann_whitney", "needs min_samples >= 3, 0 < alpha < 1, step > 0")
        self._template(self.query)
        if self.comparison is not None:
            self._template(self.comparison.baseline_query)
        return self

    def _template(self, query: str) -> PromQLTemplate:
        """Build a query's template with the kinds of the placeholders it uses (a baseline may use fewer)."""
        used = set(string.Template(query).get_identifiers())
        return PromQLTemplate(
            query, **{name: kind for name, kind in self.placeholders.items() if name in used}
        )

    def render(self, values: dict[str, Any] | None = None) -> GateSpec:
        """Substitute validated values into the query templates; the result has no placeholders left."""
        self.validate()
        values = values or {}
        query = self._render(self.query, values)
        comparison = self.comparison
        if comparison is not None:
            baseline = self._render(comparison.baseline_query, values)
            comparison = replace(comparison, baseline_query=baseline)
        return replace(self, query=query, comparison=comparison, placeholders={})

    def _render(self, query: str, values: dict[str, Any]) -> str:
        template = self._template(query)
        return template.render(**{name: values[name] for name in template.placeholders if name in values})

    # -- timing --------------------------------------------------------------------------------------------
    @property
    def _measure_seconds(self) -> float:
        """Upper bound of one measurement: queries run concurrently, each bounded by the query timeout."""
        return self.query_timeout_seconds

    def _seconds_to_nth_measurement(self, n: int) -> float:
        return self.initial_delay_seconds + (n - 1) * self.interval_seconds + n * self._measure_seconds

    @property
    def worst_case_abort_seconds(self) -> float:
        """Latest time at which a bad release, an undecided metric or an unreachable Prometheus ends the gate.

        A failure verdict needs ``failure_limit + 1`` failed measurements, an inconclusive one
        ``inconclusive_limit + 1``, an error verdict ``consecutive_error_limit + 1`` errors in a row, retried
        every ``error_retry_seconds``. ``retry_once`` doubles it: the analysis runs twice before aborting.
        """
        failed = self._seconds_to_nth_measurement(min(self.failure_limit + 1, self.count))
        undecided = self._seconds_to_nth_measurement(min(self.inconclusive_limit + 1, self.count))
        errors = self.consecutive_error_limit + 1
        errored = (
            self.initial_delay_seconds
            + (errors - 1) * self.error_retry_seconds
            + errors * self._measure_seconds
        )
        once = max(failed, undecided, errored)
        return 2 * once if self.on_fail == "retry_once" else once

    @property
    def worst_case_verdict_seconds(self) -> float:
        """Latest time to any verdict, success included, if errors interleave with good measurements."""
        per_slot_errors = self.consecutive_error_limit * (self.error_retry_seconds + self._measure_seconds)
        complete = self._seconds_to_nth_measurement(self.count) + self.count * per_slot_errors
        return max(complete, self.worst_case_abort_seconds)

    # -- serialisation (trigger kwargs must be JSON) ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateSpec:
        values = dict(data)
        for key in ("success", "failure"):
            if values.get(key) is not None:
                values[key] = Condition(**values[key])
        if values.get("comparison") is not None:
            comparison = dict(values["comparison"])
            if comparison.get("mann_whitney") is not None:
                comparison["mann_whitney"] = MannWhitney(**comparison["mann_whitney"])
            values["comparison"] = Comparison(**comparison)
        return cls(**values)
