"""The database alert's own measures, read to confirm it, and the gates that verify the remediation.

The queries are the alert rules' (``include/alerts``): query p95 of the API's database calls, pool wait
included, and the pool's share in use. Confirming reads them once and records an unreachable Prometheus as
unknown rather than as healthy; the gates after the remediation fail closed as every gate does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.gates.spec import Condition, GateSpec

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.hooks.prometheus import PrometheusHook

QUERY_P95 = (
    "max(histogram_quantile(0.95, sum by (le) "
    '(rate(novacron_db_query_duration_seconds_bucket{job="novacron-api"}[$window]))))'
)
POOL_USAGE = (
    'max(novacron_db_pool_connections{job="novacron-api",state="in_use"}'
    ' / ignoring(state) novacron_db_pool_connections{job="novacron-api",state="max"})'
)
ALERT_WINDOW = "5m"


def read_alert_measures(
    hook: PrometheusHook, runbook: Runbook, window: str = ALERT_WINDOW
) -> dict[str, tuple[float | None, bool]]:
    """``{name: (value, over its threshold)}``; ``None`` when Prometheus has no answer (never "healthy").

    ``window`` is a Prometheus duration the caller built from validated params (``5m``, ``30m``).
    """
    checks = {
        f"query p95 seconds ({window})": (
            QUERY_P95.replace("$window", window),
            runbook.threshold("query_p95").value,
        ),
        "connection pool in use": (POOL_USAGE, runbook.threshold("pool_usage").value),
    }
    found: dict[str, tuple[float | None, bool]] = {}
    for name, (query, ceiling) in checks.items():
        try:
            value = hook.query(query).first_finite()
        except Exception as exc:  # noqa: BLE001 - confirmation goes on with the database's own view
            hook.log.warning("%s: Prometheus did not answer: %s", name, exc)
            value = None
        found[name] = (value, value is not None and value > ceiling)
    return found


def query_latency_gate(runbook: Runbook) -> GateSpec:
    """Query p95 under the alert's threshold over a window that starts after the remediation."""
    return GateSpec(
        name="query_latency",
        query=QUERY_P95,
        placeholders={"window": "duration"},
        success=Condition("<", runbook.threshold("query_p95").value),
        query_timeout_seconds=5,
    ).validate()


def pool_gate(runbook: Runbook) -> GateSpec:
    """Gate the connection pool's share in use under the alert's threshold."""
    return GateSpec(
        name="connection_pool",
        query=POOL_USAGE,
        success=Condition("<", runbook.threshold("pool_usage").value),
        query_timeout_seconds=5,
    ).validate()
