"""Take one measurement of a gate against Prometheus, sync (poke mode) or async (in the triggerer).

Any failure to get an answer, a refused query, a timeout, an unreachable server, is an ``error``
measurement, never a pass; the analysis decides when too many errors in a row end the gate.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from novacron_runbooks.gates.judge import Measurement, combine, judge_comparison, judge_samples, judge_values
from novacron_runbooks.hooks.prometheus import PrometheusError

if TYPE_CHECKING:
    from novacron_runbooks.gates.spec import GateSpec
    from novacron_runbooks.hooks.prometheus import AsyncPrometheusHook, PrometheusHook, QueryResult


def _range_values(result: QueryResult) -> list[float]:
    return [value for series in result.series for _, value in series.points]


def _scalar(values: list[float]) -> float | list[float] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def judge_results(
    spec: GateSpec,
    at: datetime,
    current: QueryResult,
    baseline: QueryResult | None = None,
    canary_range: QueryResult | None = None,
    stable_range: QueryResult | None = None,
) -> Measurement:
    """Combine the verdicts of the instant query, the comparison and the statistical test."""
    if spec.comparison is None or baseline is None:
        verdict, reason = judge_values(spec, current.values)
        return Measurement(at.isoformat(), verdict, reason, current.query, _scalar(current.values))
    verdicts, reasons = [], []
    if spec.success is not None or spec.failure is not None:
        verdict, reason = judge_values(spec, current.values)
        verdicts.append(verdict)
        reasons.append(reason)
    verdict, reason = judge_comparison(spec, current.values, baseline.values)
    verdicts.append(verdict)
    reasons.append(reason)
    p_value = None
    if canary_range is not None and stable_range is not None:
        verdict, reason, p_value = judge_samples(
            spec, _range_values(canary_range), _range_values(stable_range)
        )
        verdicts.append(verdict)
        reasons.append(reason)
    return Measurement(
        at.isoformat(),
        combine(verdicts),
        "; ".join(reasons),
        current.query,
        _scalar(current.values),
        _scalar(baseline.values),
        p_value,
    )


def _window(spec: GateSpec, at: datetime) -> tuple[datetime, datetime, float]:
    assert spec.comparison is not None
    test = spec.comparison.mann_whitney
    assert test is not None
    return at - timedelta(seconds=test.window_seconds), at, test.step_seconds


def _error(spec: GateSpec, at: datetime, exc: Exception) -> Measurement:
    return Measurement(at.isoformat(), "error", f"{type(exc).__name__}: {exc}", spec.query)


def measure(spec: GateSpec, hook: PrometheusHook) -> Measurement:
    """One measurement with the sync hook (poke mode holds a worker slot while it waits)."""
    at = datetime.now(tz=UTC)
    try:
        current = hook.query(spec.query, at=at)
        if spec.comparison is None:
            return judge_results(spec, at, current)
        baseline = hook.query(spec.comparison.baseline_query, at=at)
        ranges: tuple[QueryResult | None, QueryResult | None] = (None, None)
        if spec.comparison.mann_whitney is not None:
            start, end, step = _window(spec, at)
            ranges = (
                hook.query_range(spec.query, start, end, step),
                hook.query_range(spec.comparison.baseline_query, start, end, step),
            )
    except PrometheusError as exc:
        return _error(spec, at, exc)
    return judge_results(spec, at, current, baseline, *ranges)


async def ameasure(spec: GateSpec, hook: AsyncPrometheusHook) -> Measurement:
    """One measurement with the async hook; the queries of a comparison run concurrently."""
    at = datetime.now(tz=UTC)
    try:
        if spec.comparison is None:
            return judge_results(spec, at, await hook.aquery(spec.query, at=at))
        calls = [hook.aquery(spec.query, at=at), hook.aquery(spec.comparison.baseline_query, at=at)]
        if spec.comparison.mann_whitney is not None:
            start, end, step = _window(spec, at)
            calls.append(hook.aquery_range(spec.query, start, end, step))
            calls.append(hook.aquery_range(spec.comparison.baseline_query, start, end, step))
        results = await asyncio.gather(*calls)
    except PrometheusError as exc:
        return _error(spec, at, exc)
    return judge_results(spec, at, *results)
