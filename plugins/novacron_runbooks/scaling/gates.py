"""The metric gates between scaling steps: CPU per API pod, p95 latency and the error ratio of the service.

Each gate is a :class:`~novacron_runbooks.gates.spec.GateSpec` with a ceiling from the catalog, and fails
closed like every gate: no data, NaN or an unreachable Prometheus fails the step. The rate window spans four
scrapes of the API, and the first measurement waits one window after the step's pods are ready, so the window
holds the new size's traffic only.

CPU is a share of the API container's CPU limit (the catalog's "CPU > 70%"), per pod: the busiest pod
decides, since one saturated pod is enough to slow the requests it gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from novacron_runbooks.diagnostics.panels import API_SELECTOR
from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.release.gates import SCRAPES_PER_WINDOW, SERVICE, SERVICE_ERROR_RATIO

POD_CPU_SHARE = (
    f"max(sum by (pod) (rate(container_cpu_usage_seconds_total{{{API_SELECTOR}}}[$window]))) / $limit_cores"
)
LATENCY_P95 = (
    "histogram_quantile(0.95, sum by (le) "
    "(rate(http_request_duration_seconds_bucket{service=$service}[$window])))"
)
PLACEHOLDERS = {"service": "label_value", "window": "duration", "limit_cores": "number"}
MEASUREMENTS = 2
"""Measurements per step: two windows' worth of agreement before a step counts as good."""


@dataclass(frozen=True)
class Timing:
    """A step's gate schedule, from the scrape interval of the API's job."""

    window_seconds: int
    interval_seconds: float
    count: int = MEASUREMENTS

    @classmethod
    def from_scrape(cls, scrape_seconds: float, watch_seconds: float = 0) -> Timing:
        """Windows of four scrapes, measured every two scrapes (twice at least) for ``watch_seconds``.

        The first measurement comes one window after the step's pods are ready, the last about
        ``watch_seconds`` after them.
        """
        window = max(1, math.ceil(SCRAPES_PER_WINDOW * scrape_seconds))
        interval = max(1.0, 2 * scrape_seconds)
        count = max(MEASUREMENTS, 1 + math.ceil((watch_seconds - window) / interval))
        return cls(window_seconds=window, interval_seconds=interval, count=count)


def _gate(name: str, query: str, ceiling: float, timing: Timing) -> GateSpec:
    return GateSpec(
        name=name,
        query=query,
        placeholders={k: v for k, v in PLACEHOLDERS.items() if f"${k}" in query},
        success=Condition("<", ceiling),
        count=timing.count,
        interval_seconds=timing.interval_seconds,
        initial_delay_seconds=timing.window_seconds,
        query_timeout_seconds=5,
        error_retry_seconds=2,
        consecutive_error_limit=2,
    ).validate()


def cpu_gate(ceiling: float, timing: Timing) -> GateSpec:
    return _gate("cpu", POD_CPU_SHARE, ceiling, timing)


def latency_gate(ceiling: float, timing: Timing) -> GateSpec:
    return _gate("latency_p95", LATENCY_P95, ceiling, timing)


def error_gate(ceiling: float, timing: Timing) -> GateSpec:
    return _gate("error_rate", SERVICE_ERROR_RATIO, ceiling, timing)


def render(gates: list[GateSpec], timing: Timing, limit_cores: float) -> list[GateSpec]:
    """Fill in the placeholders: the service, the rate window and the CPU limit of one API container."""
    values: dict[str, object] = {
        "service": SERVICE,
        "window": timing.window_seconds,
        "limit_cores": float(limit_cores),
    }
    return [gate.render(values) for gate in gates]


def no_worse_than(gate: GateSpec, before: float, tolerance: float = 1.1) -> GateSpec:
    """Loosen a scale-up step's gate: under its ceiling, or no worse than before the step (+10%).

    Scaling up is what brings an overloaded service back under its ceilings, so a step that only improves
    things must pass; a step that made a metric worse, or pushed it over the ceiling, fails and is reverted.
    """
    assert gate.success is not None
    ceiling = max(gate.success.threshold, before * tolerance)
    return replace(gate, success=Condition("<", ceiling))
