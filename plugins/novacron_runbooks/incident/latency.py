"""The high-latency diagnosis and its remediation policy (RUNBOOKS.md item 6), read once, chosen purely.

1. the database's share: query p95 over ``query_p95`` or the pool over ``pool_usage`` → database_issues;
2. CPU saturation: a pod over ``cpu_usage`` → scale_up;
3. otherwise no automatic remedy (slow endpoints are named for the people who take over).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from novacron_runbooks.dbsessions.health import POOL_USAGE, QUERY_P95
from novacron_runbooks.diagnostics.panels import API_POD_CPU
from novacron_runbooks.gates.promql import quote
from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.release.gates import SERVICE

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.hooks.prometheus import PrometheusHook

REQUEST_P95 = (
    "histogram_quantile(0.95, sum by (le) "
    "(rate(http_request_duration_seconds_bucket{service=$service}[$window])))"
)


def latency_gate(name: str, ceiling: float) -> GateSpec:
    """Gate the whole service's request p95 under ``ceiling``."""
    return GateSpec(
        name=name,
        query=REQUEST_P95,
        placeholders={"service": "label_value", "window": "duration"},
        success=Condition("<", ceiling),
        query_timeout_seconds=5,
    ).validate()


@dataclass
class Slowness:
    """Where the time goes: the database's part, the pool, CPU, and the slowest endpoints."""

    query_p95: float | None = None
    pool_usage: float | None = None
    max_cpu: float | None = None
    slowest_endpoints: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Slowness:
        return cls(**raw)


def read(hook: PrometheusHook, window: str) -> Slowness:
    """Read where the time goes over ``window`` (a duration the caller chose, e.g. ``2m``)."""
    endpoints = hook.query(
        "topk(5, histogram_quantile(0.95, sum by (le, endpoint) "
        f"(rate(http_request_duration_seconds_bucket{{service={quote(SERVICE)}}}[{window}]))))"
    )
    return Slowness(
        query_p95=hook.query(QUERY_P95.replace("$window", window)).first_finite(),
        pool_usage=hook.query(POOL_USAGE).first_finite(),
        max_cpu=hook.query("max(" + API_POD_CPU.replace("$rate", window) + ")").first_finite(),
        slowest_endpoints=endpoints.finite_by("endpoint", digits=3),
    )


def choose(found: Slowness, runbook: Runbook) -> tuple[str | None, str]:
    """Return the remedy runbook (or ``None``) and why, by the policy in the module doc."""
    if found.query_p95 is not None and found.query_p95 > runbook.threshold("query_p95").value:
        return "database_issues", f"database query p95 {found.query_p95:.2f} s"
    if found.pool_usage is not None and found.pool_usage > runbook.threshold("pool_usage").value:
        return "database_issues", f"database pool {found.pool_usage:.0%} in use"
    if found.max_cpu is not None and found.max_cpu > runbook.threshold("cpu_usage").value:
        return "scale_up", f"a pod uses {found.max_cpu:.2f} cores"
    slowest = ", ".join(f"{e} {v * 1000:.0f} ms" for e, v in found.slowest_endpoints.items()) or "none known"
    return None, f"neither the database nor CPU explains it; slowest endpoints: {slowest}"
