"""The time series a person looks at first when the API is slow, as PromQL panels with thresholds.

Each panel is one range query over the diagnostics window. The rate window is four scrapes of the API (at
least), as Prometheus' guidance for ``rate()`` says; the step spreads about 120 points over the window.
"""

from __future__ import annotations

from dataclasses import dataclass

API_SELECTOR = 'namespace="novacron",container="api"'
API_POD_CPU = f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{API_SELECTOR}}}[$rate]))"
"""Cores each API pod uses over ``$rate`` (the alert rule HighCpuUsage reads the same)."""


@dataclass(frozen=True)
class Panel:
    """One plot: its series (``legend label`` → PromQL with ``$rate``), the unit and a threshold line."""

    name: str
    title: str
    unit: str
    queries: dict[str, str]
    threshold: float | None = None

    def rendered(self, rate_window: str) -> dict[str, str]:
        return {label: query.replace("$rate", rate_window) for label, query in self.queries.items()}


def performance_panels(cpu: float, latency_p95: float, pool: float) -> list[Panel]:
    """Saturation, the latency split between application and database, and the pool."""
    return [
        Panel(
            "cpu",
            "CPU per api pod (cores)",
            "cores",
            {"{pod}": API_POD_CPU},
            cpu,
        ),
        Panel(
            "memory",
            "Memory working set per api pod",
            "bytes",
            {"{pod}": f"sum by (pod) (container_memory_working_set_bytes{{{API_SELECTOR}}})"},
        ),
        Panel(
            "latency",
            "p95 latency: whole request vs database part",
            "seconds",
            {
                "request p95": "histogram_quantile(0.95, sum by (le) "
                '(rate(http_request_duration_seconds_bucket{service="novacron-api"}[$rate])))',
                "database p95": "histogram_quantile(0.95, sum by (le) "
                '(rate(novacron_db_query_duration_seconds_bucket{job="novacron-api"}[$rate])))',
            },
            latency_p95,
        ),
        Panel(
            "pool",
            "Database pool in use (share)",
            "ratio",
            {
                "pool": 'max(novacron_db_pool_connections{job="novacron-api",state="in_use"}'
                ' / ignoring(state) novacron_db_pool_connections{job="novacron-api",state="max"})'
            },
            pool,
        ),
    ]


SLOWEST_ENDPOINTS = (
    "topk(5, histogram_quantile(0.95, sum by (le, endpoint) "
    '(rate(http_request_duration_seconds_bucket{service="novacron-api"}[$window]))))'
)
BUSIEST_PODS = "topk(3, " + API_POD_CPU.replace("$rate", "$window") + ")"
