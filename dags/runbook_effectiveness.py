"""Weekly runbook effectiveness: runs, success rate and time to resolve per runbook, as metrics and a plot.

::

    compute_effectiveness >> [publish_metrics, plot_effectiveness]

- ``compute_effectiveness``: the run reports of every catalog runbook whose runs started in the window (the
  week the schedule covers, or ``window_days`` ending at ``as_of`` for a manual run); per runbook the
  remediations (dry runs and false alarms counted apart), successes, success rate, median and p90 time to
  resolve (alert's ``starts_at``, else the run's start, to the run's end), and the runs over the catalog's
  time budget (``novacron_runbooks.effectiveness.stats`` defines each figure).
- ``publish_metrics``: the figures to the Pushgateway as ``novacron_runbook_*{runbook, window}`` (names in
  ``novacron_runbooks.alerts.contract``); the window's group is replaced whole, so no figure goes stale.
- ``plot_effectiveness``: one PNG beside the run report: time to resolve per runbook against its time
  budget, and the success rate.

The monthly ``runbook_review`` shows the same figures over its month. Read-only apart from its own
Pushgateway group and report: safe to re-run; a scheduled rerun counts the same week.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import get_current_context

from novacron_runbooks.catalog import default_catalog, scheduled_job
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.effectiveness.history import Window, catalog_effectiveness
from novacron_runbooks.effectiveness.metrics import publish_effectiveness
from novacron_runbooks.effectiveness.plot import effectiveness_png
from novacron_runbooks.effectiveness.stats import RunbookEffectiveness, figures_of
from novacron_runbooks.hooks.pushgateway import PushgatewayHook

JOB = scheduled_job("runbook_effectiveness")


def _window_end(params: dict[str, Any]) -> datetime:
    """00:00 UTC of ``as_of``, else the scheduled interval's end (a rerun counts the same week), else now."""
    if params["as_of"]:
        return datetime.combine(date.fromisoformat(params["as_of"]), datetime.min.time(), tzinfo=UTC)
    context = get_current_context()
    end = context.get("data_interval_end")
    if context["dag_run"].run_type == "scheduled" and end is not None:
        return end
    return datetime.now(tz=UTC)


def _figures(computed: dict[str, Any]) -> list[RunbookEffectiveness]:
    return [RunbookEffectiveness(**item) for item in computed["figures"]]


with runbook_dag(JOB.name, runbook=JOB, schedule="@weekly", max_active_runs=1):

    @runbook_step
    def compute_effectiveness(params: dict[str, Any]) -> dict[str, Any]:
        """Count every catalog runbook's runs in the window and compute its figures."""
        end, days = _window_end(params), int(params["window_days"])
        window = Window(end - timedelta(days=days), end, f"{days}d")
        figures = catalog_effectiveness(default_catalog(), window)
        evidence = current_evidence()
        evidence.note(f"window {window.label}: runs that started from {window.start} to {window.end}")
        for item in figures:
            verdict = "attention" if item.attention else "ok" if item.runs else "no runs"
            evidence.measure(item.runbook, figures_of(item), verdict)
        runs, successes = sum(f.runs for f in figures), sum(f.successes for f in figures)
        evidence.note(
            f"{runs} remediations, {successes} succeeded, in {sum(1 for f in figures if f.runs)} runbooks"
        )
        return {
            "window": window.label,
            "start": window.start.isoformat(),
            "end": end.isoformat(),
            "figures": [asdict(item) for item in figures],
        }

    @runbook_step
    def publish_metrics(computed: dict[str, Any]) -> list[str]:
        """Replace the window's Pushgateway group with the figures; an unreachable gateway fails the step."""
        end = datetime.fromisoformat(computed["end"])
        names = publish_effectiveness(PushgatewayHook(), _figures(computed), computed["window"], end)
        target = f"Pushgateway group window={computed['window']}"
        current_evidence().change(target, f"replaced with {', '.join(names)}", applied=True)
        return names

    @runbook_step
    def plot_effectiveness(computed: dict[str, Any]) -> str:
        """Plot time to resolve against the time budget and the success rate, beside the report."""
        start, end = computed["start"][:16], computed["end"][:16]
        title = f"Runbook effectiveness ({computed['window']}): {start} to {end} UTC"
        png = effectiveness_png(_figures(computed), title)
        return current_evidence().attach(f"{computed['window']}.png", png, title)

    computed = compute_effectiveness()
    publish_metrics(computed)
    plot_effectiveness(computed)
