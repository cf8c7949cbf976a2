"""Debug performance: saturation, the latency split between application and database, top offenders, plots.

::

    plot_panels ─┐
    find_offenders ─┴─> write_findings

- ``plot_panels``: range queries over ``window_minutes`` for CPU and memory per api pod, request p95 against
  the database part of it, and the database pool; one PNG per panel, linked from the report, with the
  threshold drawn. The newest value of each series is judged against the catalog thresholds.
- ``find_offenders``: the slowest endpoints (p95) and the busiest pods over the window.
- ``write_findings``: findings by severity and the runbook to run next: CPU saturation → ``scale_up``; a
  database share of the latency or a full pool → ``database_issues``; slow requests with a fast database →
  ``debug_api``.

Read-only: it queries Prometheus and changes nothing. No data is a finding of its own, never a pass.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import TriggerRule

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.diagnostics import panels
from novacron_runbooks.diagnostics.findings import Finding, summarize
from novacron_runbooks.diagnostics.performance import panel_findings
from novacron_runbooks.diagnostics.plots import plot_png
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.gates import API_JOB, SCRAPES_PER_WINDOW

RUNBOOK = catalog_runbook("debug_performance")
CPU = float(RUNBOOK.threshold("cpu_usage").value)
LATENCY = float(RUNBOOK.threshold("latency_p95").value)
POOL = float(RUNBOOK.threshold("pool_usage").value)
POINTS = 120
READERS = ("plot_panels", "find_offenders")


def _newest(points: list[tuple[float, float]]) -> float | None:
    finite = [v for _, v in points if not math.isnan(v)]
    return finite[-1] if finite else None


with runbook_dag(RUNBOOK.name):

    @runbook_step(retries=1)
    def plot_panels(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Query each panel over the window, attach its plot, judge the newest values."""
        evidence = current_evidence()
        hook = PrometheusHook()
        end = datetime.now(tz=UTC)
        start = end - timedelta(minutes=params["window_minutes"])
        step = max((end - start).total_seconds() / POINTS, 1.0)
        scrape = hook.scrape_interval_seconds(API_JOB)
        rate = f"{int(max(SCRAPES_PER_WINDOW * scrape, step))}s"
        latest: dict[str, dict[str, float | None]] = {}
        for panel in panels.performance_panels(CPU, LATENCY, POOL):
            series: dict[str, list[tuple[float, float]]] = {}
            for legend, query in panel.rendered(rate).items():
                result = hook.query_range(query, start, end, step)
                for found in result.series:
                    label = legend.format(**found.labels) if "{" in legend else legend
                    series[label] = found.points
            latest[panel.name] = {label: _newest(points) for label, points in series.items()}
            evidence.attach(f"{panel.name}.png", plot_png(panel, series), panel.title)
            evidence.measure(panel.title, latest[panel.name], "pass" if series else "unknown")
        return [f.to_dict() for f in panel_findings(latest, CPU, LATENCY, POOL)]

    @runbook_step(retries=1)
    def find_offenders(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Slowest endpoints by p95 and busiest pods by CPU over the window."""
        evidence = current_evidence()
        hook = PrometheusHook()
        window = f"{params['window_minutes']}m"
        found: list[Finding] = []
        offenders = {
            "slowest endpoints (p95 s)": panels.SLOWEST_ENDPOINTS,
            "busiest pods": panels.BUSIEST_PODS,
        }
        for name, query in offenders.items():
            samples = hook.query(query.replace("$window", window)).samples
            ranked = {
                (s.labels.get("endpoint") or s.labels.get("pod") or "?"): round(s.value, 3)
                for s in samples
                if not math.isnan(s.value)
            }
            evidence.measure(name, ranked, "pass" if ranked else "unknown")
            if name.startswith("slowest"):
                found += [
                    Finding(
                        "warning",
                        f"endpoint {endpoint} p95 {p95 * 1000:.0f} ms",
                        f"over {LATENCY * 1000:.0f} ms",
                        "debug_api",
                    )
                    for endpoint, p95 in ranked.items()
                    if p95 > LATENCY
                ]
        return [f.to_dict() for f in found]

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE)
    def write_findings() -> dict[str, Any]:
        """Order the findings by severity and name the runbook to run next (whatever part failed)."""
        return summarize(READERS)

    [plot_panels(), find_offenders()] >> write_findings()
