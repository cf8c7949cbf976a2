"""The metric gates of the release runbooks, built from the catalog's thresholds.

Release gates measure the release itself, not the whole service: the API labels its request metrics with
``version`` (the image tag, or the first 12 hex digits of a digest-only reference) and ``track`` (``canary``
or ``stable``). A gate on ``version`` judges the new release from its first requests, without waiting for the
old release's traffic to leave the rate window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from novacron_runbooks.gates.spec import Comparison, Condition, GateSpec

SERVICE = "novacron-api"
API_JOB = "novacron-api"
"""The Prometheus job that scrapes the API (its scrape interval bounds every rate window)."""
SCRAPES_PER_WINDOW = 4
"""A rate window must span at least four scrapes, as Prometheus' own guidance for ``rate()`` says."""


def error_ratio(selector: str = "") -> str:
    """Errors / requests over the window; no 5xx series at all reads as 0 errors, no requests as no data."""
    extra = f",{selector}" if selector else ""
    errors = f'http_requests_total{{service=$service{extra},code=~"5.."}}'
    requests = f"http_requests_total{{service=$service{extra}}}"
    return f"(sum(rate({errors}[$window])) or vector(0)) / sum(rate({requests}[$window]))"


VERSION_ERROR_RATIO = error_ratio("version=$version")
SERVICE_ERROR_RATIO = error_ratio()
VERSION_PLACEHOLDERS = {"service": "label_value", "version": "label_value", "window": "duration"}


def image_version(image: str) -> str:
    """Return the ``version`` label the API reports for ``image``: its tag, or 12 hex digits of a digest."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1].split(":")[-1][:12]
    return last.partition(":")[2] or "latest"


def release_error_gate(
    name: str,
    ceiling: float,
    *,
    count: int = 1,
    interval_seconds: float = 0.0,
    initial_delay_seconds: float = 0.0,
) -> GateSpec:
    """Gate: the release's error ratio stays under ``ceiling`` at every measurement; no data fails.

    The rate window is a placeholder, given with the version by :func:`release_gate_values`.
    """
    return GateSpec(
        name=name,
        query=VERSION_ERROR_RATIO,
        placeholders=dict(VERSION_PLACEHOLDERS),
        success=Condition("<", ceiling),
        interval_seconds=interval_seconds,
        count=count,
        initial_delay_seconds=initial_delay_seconds,
        query_timeout_seconds=5,
        error_retry_seconds=2,
        consecutive_error_limit=2,
    ).validate()


def service_error_gate(name: str, ceiling: float) -> GateSpec:
    """One look at the whole service's error ratio (preflight: do not release into an incident)."""
    return GateSpec(
        name=name,
        query=SERVICE_ERROR_RATIO,
        placeholders={"service": "label_value", "window": "duration"},
        success=Condition("<", ceiling),
        query_timeout_seconds=5,
    ).validate()


def release_gate_values(version: str, window_seconds: int) -> dict[str, object]:
    return {"service": SERVICE, "version": version, "window": int(window_seconds)}


IN_PLACE_WINDOW_SECONDS = 20
IN_PLACE_INTERVAL_SECONDS = 10


def in_place_release_gate(name: str, ceiling: float) -> GateSpec:
    """Return the gate after a release rolled onto the live colour in place (hotfix, security patch).

    18 measurements 10 s apart: the catalog's 3 minutes; ``gate_seconds`` sets the count per run.
    """
    return release_error_gate(name, ceiling, count=18, interval_seconds=IN_PLACE_INTERVAL_SECONDS)


def in_place_gate_settings(plan: str) -> dict[str, Any]:
    """``values`` and ``overrides`` of that gate: the new version's own requests, ``gate_seconds`` long.

    ``plan`` is the template of the planning task's XCom (``"{{ ti.xcom_pull(...)['%s'] }}"``), which holds
    the ``version`` and the ``gate_delay_seconds``.
    """
    return {
        "values": release_gate_values(plan % "version", IN_PLACE_WINDOW_SECONDS),
        "overrides": {
            "count": f"{{{{ [1, params.gate_seconds // {IN_PLACE_INTERVAL_SECONDS}] | max }}}}",
            "initial_delay_seconds": plan % "gate_delay_seconds",
        },
    }


# -- canary ----------------------------------------------------------------------------------------------
def _enough(track: str) -> str:
    """``and on()`` filter: the result exists only when the track served ``$min_requests`` in the window."""
    served = f'sum(increase(http_requests_total{{service=$service,track="{track}"}}[$window]))'
    return f" and on() ({served} >= $min_requests)"


def _p95(track: str) -> str:
    return (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        f'{{service=$service,track="{track}"}}[$window])))'
    )


CANARY_PLACEHOLDERS = {"service": "label_value", "window": "duration", "min_requests": "number"}


@dataclass(frozen=True)
class CanaryAnalysis:
    """The canary param ``analysis``, validated by its JSON Schema in the catalog."""

    max_error_rate_delta: float
    max_latency_p95_ratio: float
    min_requests: int
    on_no_data: str
    failure_limit: int
    latency_floor_seconds: float = 0.05

    @classmethod
    def from_param(cls, value: dict[str, object]) -> CanaryAnalysis:
        return cls(**value)  # type: ignore[arg-type]


def measurement_spacing(interval_seconds: int, analysis: CanaryAnalysis) -> float:
    """Seconds between two measurements of one step: the step's interval split over the tolerated failures."""
    return interval_seconds / (analysis.failure_limit + 1)


def min_interval_seconds(scrape_interval_seconds: float, analysis: CanaryAnalysis) -> int:
    """Shortest step interval whose measurements each span enough scrapes for ``rate()``."""
    return math.ceil(SCRAPES_PER_WINDOW * scrape_interval_seconds * (analysis.failure_limit + 1))


def canary_gates(
    interval_seconds: int, analysis: CanaryAnalysis, error_ceiling: float, latency_ceiling: float
) -> list[GateSpec]:
    """Build the two gates of every canary step: error rate and p95 latency, canary against stable.

    Each measures ``failure_limit + 1`` times within the step's interval, the first after one spacing (the
    canary needs traffic first); a canary over the catalog's absolute ceiling fails whatever stable does.
    """
    spacing = measurement_spacing(interval_seconds, analysis)
    common = {
        "placeholders": dict(CANARY_PLACEHOLDERS),
        "interval_seconds": spacing,
        "count": analysis.failure_limit + 1,
        "initial_delay_seconds": spacing,
        "failure_limit": analysis.failure_limit,
        "on_no_data": analysis.on_no_data,
        "query_timeout_seconds": 5.0,
        "error_retry_seconds": 2.0,
        "consecutive_error_limit": 2,
    }
    errors = GateSpec(
        name="canary_errors",
        query=error_ratio('track="canary"') + _enough("canary"),
        failure=Condition(">", error_ceiling),
        comparison=Comparison(
            baseline_query=error_ratio('track="stable"'),
            mode="difference",
            max_allowed=analysis.max_error_rate_delta,
        ),
        **common,  # type: ignore[arg-type]
    )
    latency = GateSpec(
        name="canary_latency",
        query=_p95("canary") + _enough("canary"),
        failure=Condition(">", latency_ceiling),
        comparison=Comparison(
            baseline_query=_p95("stable"),
            mode="ratio",
            max_allowed=analysis.max_latency_p95_ratio,
            floor=analysis.latency_floor_seconds,
        ),
        **common,  # type: ignore[arg-type]
    )
    return [errors.validate(), latency.validate()]


def canary_gate_values(window_seconds: float, analysis: CanaryAnalysis) -> dict[str, object]:
    return {"service": SERVICE, "window": max(1, int(window_seconds)), "min_requests": analysis.min_requests}
