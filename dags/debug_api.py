"""Debug API issues: errors and latency per endpoint, pods, events, logs, and the release history.

::

    measure_endpoints ─┐
    inspect_pods ──────┼─> write_findings
    recent_releases ───┘

- ``measure_endpoints``: error ratio and p95 per endpoint over ``window_minutes`` (Prometheus), with a plot of
  each over the window; an endpoint over the catalog's thresholds is a finding.
- ``inspect_pods``: the API pods' readiness, restarts and waiting reasons (CrashLoopBackOff,
  ImagePullBackOff), the namespace's newest Warning events, and error lines from recent pod logs (reported as
  unavailable when the cluster serves no logs).
- ``recent_releases``: releases of the last hour from the deployment history: errors that began with one
  point at ``rollback``.
- ``write_findings``: findings by severity and the runbook to run next.

Read-only: it queries Prometheus and the cluster and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import TriggerRule

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.diagnostics import pods
from novacron_runbooks.diagnostics.findings import Finding, summarize
from novacron_runbooks.diagnostics.panels import Panel
from novacron_runbooks.diagnostics.plots import plot_png
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.cluster import CONTAINER, SERVICE, ReleaseCluster
from novacron_runbooks.release.gates import API_JOB, SCRAPES_PER_WINDOW
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("debug_api")
ERROR_RATE = float(RUNBOOK.threshold("error_rate").value)
LATENCY = float(RUNBOOK.threshold("latency_p95").value)
READERS = ("measure_endpoints", "inspect_pods", "recent_releases")
_SERVED = 'sum by (endpoint) (rate(http_requests_total{service="novacron-api"}[$rate]))'
ENDPOINT_ERRORS = (
    '(sum by (endpoint) (rate(http_requests_total{service="novacron-api",code=~"5.."}[$rate]))'
    f" or {_SERVED} * 0) / {_SERVED}"
)
"""5xx share per endpoint; an endpoint that served no 5xx reads 0, not "no data"."""
ENDPOINT_P95 = (
    "histogram_quantile(0.95, sum by (le, endpoint) "
    '(rate(http_request_duration_seconds_bucket{service="novacron-api"}[$rate])))'
)
RECENT_MINUTES = 60


with runbook_dag(RUNBOOK.name):

    @runbook_step(retries=1)
    def measure_endpoints(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Error ratio and p95 per endpoint over the window, plotted; judge each against the thresholds."""
        evidence = current_evidence()
        hook = PrometheusHook()
        minutes = params["window_minutes"]
        end = datetime.now(tz=UTC)
        start = end - timedelta(minutes=minutes)
        step = max(minutes * 60 / 120, 1.0)
        rate = f"{int(max(SCRAPES_PER_WINDOW * hook.scrape_interval_seconds(API_JOB), step))}s"
        found: list[Finding] = []
        for panel in (
            Panel("errors", "5xx share per endpoint", "ratio", {"{endpoint}": ENDPOINT_ERRORS}, ERROR_RATE),
            Panel("latency", "p95 per endpoint", "seconds", {"{endpoint}": ENDPOINT_P95}, LATENCY),
        ):
            series = {
                found_series.labels.get("endpoint", "?"): found_series.points
                for found_series in hook.query_range(
                    panel.queries["{endpoint}"].replace("$rate", rate), start, end, step
                ).series
            }
            evidence.attach(f"{panel.name}.png", plot_png(panel, series), panel.title)
            query = panel.queries["{endpoint}"].replace("$rate", f"{minutes}m")
            values = hook.query(query).finite_by("endpoint")
            evidence.measure(f"{panel.title} ({minutes}m)", values, "pass" if values else "unknown")
            if not values:
                found.append(Finding("warning", f"{panel.title}: no data", "Prometheus returned no samples"))
            for endpoint, value in values.items():
                if panel.threshold is not None and value > panel.threshold:
                    what = f"{value:.1%} errors" if panel.name == "errors" else f"p95 {value * 1000:.0f} ms"
                    found.append(
                        Finding(
                            "critical",
                            f"{endpoint}: {what}",
                            f"over {panel.threshold:g}",
                            "high_error_rate" if panel.name == "errors" else "debug_performance",
                        )
                    )
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def inspect_pods() -> list[dict[str, Any]]:
        """Pods (ready, restarts, waiting reasons), Warning events and error lines of recent logs."""
        evidence = current_evidence()
        cluster = ReleaseCluster()
        found: list[Finding] = []
        health = pods.pods_of(cluster, f"app={SERVICE}")
        evidence.measure("api pods", [p.to_dict() for p in health], "pass" if health else "fail")
        if not health:
            found.append(Finding("critical", "no API pods", "the application is gone", "dr_service_failure"))
        for pod in health:
            if pod.waiting:
                found.append(
                    Finding(
                        "critical", f"{pod.name}: {', '.join(pod.waiting)}", "pod cannot run", "service_down"
                    )
                )
            elif pod.restarts:
                found.append(Finding("warning", f"{pod.name}: {pod.restarts} restart(s)", "check its logs"))
        events = pods.warning_events(cluster)
        if events is None:
            evidence.note("the cluster serves no events: none shown")
        elif events:
            evidence.note("warning events:\n" + "\n".join(events))
        for pod in health[:3]:
            lines = pods.trouble_lines(cluster, pod.name, CONTAINER)
            if lines is None:
                evidence.note(f"{pod.name}: logs unavailable from the cluster")
            elif lines:
                evidence.note(f"{pod.name} log errors:\n" + "\n".join(lines))
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def recent_releases() -> list[dict[str, Any]]:
        """Releases of the last hour: a new release is the first suspect for new errors."""
        evidence = current_evidence()
        recent = ReleaseHistory(ReleaseCluster()).started_since(RECENT_MINUTES)
        evidence.measure(
            "releases in the last hour", [f"r{r.revision} {r.image} {r.result}" for r in recent], "pass"
        )
        return [
            Finding(
                "warning",
                f"release r{r.revision} ({r.image}) at {r.started_at}",
                "errors that began after it point at it",
                "rollback",
            ).to_dict()
            for r in recent[-1:]
            if r.result in ("promoted", "restored", "deploying")
        ]

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE)
    def write_findings() -> dict[str, Any]:
        """Order the findings by severity and name the runbook to run next (whatever part failed)."""
        return summarize(READERS)

    [measure_endpoints(), inspect_pods(), recent_releases()] >> write_findings()
