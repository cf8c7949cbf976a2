"""The monthly runbook review: which runbooks are due, which failed or overran since the last review.

Run history comes from the run reports every runbook writes (``report.json`` in the report store): they carry
the outcome, objectives and duration, and outlive Airflow's metadata database when the store is off-host.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from novacron_runbooks.dagkit.report.store import REPORT_FILES, reports_base_url, safe_segment

if TYPE_CHECKING:
    from collections.abc import Iterator

    from novacron_runbooks.catalog import Catalog, Runbook

log = logging.getLogger(__name__)
FAILED_OUTCOMES = {"failed", "missed-target"}


@dataclass
class RunbookFindings:
    """What the review says about one runbook."""

    name: str
    due: bool
    next_review: date
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    overrun_runs: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return self.due or bool(self.failed_runs) or bool(self.overrun_runs)


def iter_run_reports(dag_id: str, since: datetime) -> Iterator[dict[str, Any]]:
    """Yield the JSON reports of runs of ``dag_id`` that started at or after ``since``."""
    folder = ObjectStoragePath(reports_base_url()) / safe_segment(dag_id)
    if not folder.exists():
        return
    for run_folder in sorted(folder.iterdir()):
        path = run_folder / REPORT_FILES["json"]
        if not path.exists():
            continue
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            started = datetime.fromisoformat(str(report["started_at"]))
        except (ValueError, KeyError):
            log.warning("skipping unreadable report %s", path)
            continue
        if started >= since:
            yield report


def review_runbook(runbook: Runbook, today: date, since: datetime) -> RunbookFindings:
    findings = RunbookFindings(runbook.name, runbook.review.is_due(today), runbook.review.next_review)
    budget = runbook.time_budget
    for report in iter_run_reports(runbook.dag_id, since):
        if report.get("dry_run"):
            continue
        findings.runs += 1
        if report.get("outcome") in FAILED_OUTCOMES:
            findings.failed_runs.append(report["run_id"])
        duration = report.get("duration_seconds")
        if budget is not None and duration is not None and duration > budget.total_seconds():
            findings.overrun_runs.append(report["run_id"])
    return findings


def review_catalog(catalog: Catalog, today: date, since: datetime) -> list[RunbookFindings]:
    return [review_runbook(runbook, today, since) for runbook in catalog]


def summary_text(findings: list[RunbookFindings], today: date, since: datetime) -> str:
    """Compose the Slack summary: counts first, then the runbooks that need attention."""
    due = [f.name for f in findings if f.due]
    failed = [f"{f.name} ({len(f.failed_runs)})" for f in findings if f.failed_runs]
    overran = [f"{f.name} ({len(f.overrun_runs)})" for f in findings if f.overrun_runs]
    runs = sum(f.runs for f in findings)
    lines = [
        f":clipboard: Runbook review {today.isoformat()} (runs since {since.date().isoformat()}: {runs})",
        f"Due for review ({len(due)}): {', '.join(due) or 'none'}",
        f"Failed or missed objectives ({len(failed)}): {', '.join(failed) or 'none'}",
        f"Over estimated time ({len(overran)}): {', '.join(overran) or 'none'}",
    ]
    return "\n".join(lines)
