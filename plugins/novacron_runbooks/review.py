"""The monthly runbook review: which runbooks are due, how each worked since the last review.

Run history and the figures (runs, failures, overruns, success rate, time to resolve) come from
:mod:`novacron_runbooks.effectiveness`, the same computation the weekly effectiveness job publishes, read
from the run reports every runbook writes (``report.json`` in the report store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from novacron_runbooks.effectiveness.history import catalog_effectiveness

if TYPE_CHECKING:
    from datetime import date

    from novacron_runbooks.catalog import Catalog
    from novacron_runbooks.effectiveness.history import Window
    from novacron_runbooks.effectiveness.stats import RunbookEffectiveness


@dataclass
class RunbookFindings:
    """What the review says about one runbook."""

    name: str
    due: bool
    next_review: date
    effectiveness: RunbookEffectiveness

    @property
    def runs(self) -> int:
        return self.effectiveness.runs

    @property
    def failed_runs(self) -> list[str]:
        return self.effectiveness.failed_runs

    @property
    def overrun_runs(self) -> list[str]:
        return self.effectiveness.overrun_runs

    @property
    def needs_attention(self) -> bool:
        return self.due or self.effectiveness.attention


def review_catalog(catalog: Catalog, today: date, window: Window) -> list[RunbookFindings]:
    figures = {item.runbook: item for item in catalog_effectiveness(catalog, window)}
    return [
        RunbookFindings(rb.name, rb.review.is_due(today), rb.review.next_review, figures[rb.name])
        for rb in catalog
    ]


def _effectiveness_line(findings: list[RunbookFindings]) -> str:
    """Success rate and median time to resolve of each runbook that remediated something."""
    parts = []
    for item in findings:
        figures = item.effectiveness
        if figures.success_ratio is None:
            continue
        median = figures.time_to_resolve.get("0.5")
        resolve = f"{median / 60:.1f} min" if median is not None else "-"
        parts.append(f"{item.name} {figures.success_ratio:.0%} / {resolve} ({figures.runs})")
    return f"Success rate / median time to resolve (runs): {', '.join(parts) or 'no runs'}"


def summary_text(findings: list[RunbookFindings], today: date, window: Window) -> str:
    """Compose the Slack summary: counts first, then the runbooks that need attention."""
    due = [f.name for f in findings if f.due]
    failed = [f"{f.name} ({len(f.failed_runs)})" for f in findings if f.failed_runs]
    overran = [f"{f.name} ({len(f.overrun_runs)})" for f in findings if f.overrun_runs]
    runs = sum(f.runs for f in findings)
    since = window.start.date().isoformat()
    lines = [
        f":clipboard: Runbook review {today.isoformat()} (runs since {since}: {runs})",
        f"Due for review ({len(due)}): {', '.join(due) or 'none'}",
        f"Failed or missed objectives ({len(failed)}): {', '.join(failed) or 'none'}",
        f"Over estimated time ({len(overran)}): {', '.join(overran) or 'none'}",
        _effectiveness_line(findings),
    ]
    return "\n".join(lines)
