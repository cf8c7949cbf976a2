"""Debug DWCP: migration success and duration, bandwidth and retransmits per link, agent health.

::

    measure_migrations ─┐
    measure_links ──────┼─> write_findings
    inspect_agents ─────┘

- ``measure_migrations``: success rate and p95 duration of VM live migrations over ``window_minutes``.
- ``measure_links``: bandwidth and retransmits per DWCP link (``link`` narrows it to one), plotted over the
  window; a link over the retransmit threshold is a finding.
- ``inspect_agents``: the ``dwcp-agent`` pods (ready, restarts, waiting reasons).
- ``write_findings``: findings by severity and the runbook to run next.

Read-only. The ``link`` param reaches PromQL only as a quoted label value.
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
from novacron_runbooks.gates.promql import quote
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.cluster import ReleaseCluster
from novacron_runbooks.release.gates import API_JOB, SCRAPES_PER_WINDOW

RUNBOOK = catalog_runbook("debug_dwcp")
SUCCESS = float(RUNBOOK.threshold("migration_success").value)
DURATION = float(RUNBOOK.threshold("migration_p95").value)
RETRANSMITS = float(RUNBOOK.threshold("retransmits").value)
AGENT = "dwcp-agent"
READERS = ("measure_migrations", "measure_links", "inspect_agents")


def link_selector(link: str) -> str:
    """``{link="..."}`` for one link (quoted), or nothing for every link."""
    return f"{{link={quote(link)}}}" if link else ""


with runbook_dag(RUNBOOK.name):

    @runbook_step(retries=1)
    def measure_migrations(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Migration success rate and p95 duration over the window."""
        evidence = current_evidence()
        hook = PrometheusHook()
        window = f"{params['window_minutes']}m"
        rate = hook.query(
            f'sum(increase(dwcp_migrations_total{{result="success"}}[{window}]))'
            f" / sum(increase(dwcp_migrations_total[{window}]))"
        ).first_finite()
        p95 = hook.query(
            f"histogram_quantile(0.95, sum by (le) (rate(dwcp_migration_duration_seconds_bucket[{window}])))"
        ).first_finite()
        evidence.measure(
            "migration success rate",
            rate,
            "unknown" if rate is None else "pass" if rate >= SUCCESS else "fail",
        )
        evidence.measure(
            "migration p95 seconds", p95, "unknown" if p95 is None else "pass" if p95 <= DURATION else "fail"
        )
        found = []
        if rate is None:
            found.append(Finding("warning", "no migrations in the window", "no DWCP migration was recorded"))
        elif rate < SUCCESS:
            found.append(
                Finding("critical", f"migration success {rate:.0%}", f"under {SUCCESS:.0%}; see the links")
            )
        if p95 is not None and p95 > DURATION:
            found.append(Finding("warning", f"migration p95 {p95:.0f} s", f"over {DURATION:.0f} s"))
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def measure_links(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Bandwidth and retransmits per link, plotted; a link over the retransmit threshold is a finding."""
        evidence = current_evidence()
        hook = PrometheusHook()
        selector = link_selector(params["link"])
        minutes = params["window_minutes"]
        end = datetime.now(tz=UTC)
        start = end - timedelta(minutes=minutes)
        step = max(minutes * 60 / 120, 1.0)
        rate = f"{int(max(SCRAPES_PER_WINDOW * hook.scrape_interval_seconds(API_JOB), step))}s"
        bandwidth = f"sum by (link) (dwcp_bandwidth_bytes_per_second{selector})"
        retransmits = f"sum by (link) (rate(dwcp_retransmits_total{selector}[$rate]))"
        panels = (
            Panel("bandwidth", "DWCP bandwidth per link", "bytes/s", {"{link}": bandwidth}),
            Panel(
                "retransmits", "DWCP retransmits per link", "per second", {"{link}": retransmits}, RETRANSMITS
            ),
        )
        found = []
        for panel in panels:
            query = panel.queries["{link}"]
            result = hook.query_range(query.replace("$rate", rate), start, end, step)
            series = {s.labels.get("link", "?"): s.points for s in result.series}
            evidence.attach(f"{panel.name}.png", plot_png(panel, series), panel.title)
            now = hook.query(query.replace("$rate", rate)).finite_by("link", digits=1)
            evidence.measure(panel.title, now, "pass" if now else "unknown")
            if not now:
                found.append(Finding("warning", f"{panel.title}: no data", "no link reported"))
            if panel.threshold is not None:
                found += [
                    Finding(
                        "critical",
                        f"link {link}: {value:.0f} retransmits/s",
                        f"over {RETRANSMITS:.0f}/s: a lossy link; escalate to the network team",
                    )
                    for link, value in now.items()
                    if value > panel.threshold
                ]
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def inspect_agents() -> list[dict[str, Any]]:
        """Read the DWCP agent pods: readiness, restarts, waiting reasons."""
        evidence = current_evidence()
        health = pods.pods_of(ReleaseCluster(), f"app={AGENT}")
        evidence.measure("dwcp-agent pods", [p.to_dict() for p in health], "pass" if health else "fail")
        found = []
        if not health:
            found.append(
                Finding("critical", "no dwcp-agent pods", "migrations cannot run", "dr_complete_recovery")
            )
        for pod in health:
            if not pod.ready or pod.waiting:
                found.append(
                    Finding("critical", f"{pod.name} not ready", ", ".join(pod.waiting) or pod.phase)
                )
            elif pod.restarts:
                found.append(Finding("warning", f"{pod.name}: {pod.restarts} restart(s)", "check its logs"))
        return [f.to_dict() for f in found]

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE)
    def write_findings() -> dict[str, Any]:
        """Order the findings by severity and name the runbook to run next (whatever part failed)."""
        return summarize(READERS)

    [measure_migrations(), measure_links(), inspect_agents()] >> write_findings()
