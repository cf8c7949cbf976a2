"""Run history of a runbook, read back from the run reports its runs wrote, as plain :class:`RunRecord` s.

Tasks cannot read Airflow's metadata database in Airflow 3, and the REST API needs credentials only the demo
has; every runbook's last task (``run_report``, trigger rule ``all_done``) instead stores ``report.json`` with
the run's start (the DAG run's ``start_date``), its end, outcome, params and each step's verdict. The same
files outlive the metadata database when the report store is off-host. The monthly review and the weekly
effectiveness job both read the history here, so they count the same runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from novacron_runbooks.dagkit.report.store import REPORT_FILES, reports_base_url, safe_segment
from novacron_runbooks.effectiveness.stats import RunbookEffectiveness, RunRecord, summarize
from novacron_runbooks.rebuild.plan import outage_start

if TYPE_CHECKING:
    from collections.abc import Iterator

    from novacron_runbooks.catalog import Catalog

log = logging.getLogger(__name__)
FALSE_ALARM = "false alarm"
"""The verdict an incident runbook's ``confirm`` step leaves when the symptom is not there."""


@dataclass(frozen=True)
class Window:
    """Runs that started at or after ``start`` and before ``end`` (open-ended when ``end`` is None)."""

    start: datetime
    end: datetime | None = None
    label: str = ""
    """How metrics name the window (``7d``, ``30d``)."""

    def contains(self, moment: datetime) -> bool:
        return moment >= self.start and (self.end is None or moment < self.end)


def _moment(raw: Any) -> datetime:
    moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _alert_start(params: dict[str, Any], started: datetime) -> datetime | None:
    alert = params.get("alert")
    if not isinstance(alert, dict) or not alert.get("starts_at"):
        return None
    try:
        moment, _ = outage_start(alert, started)
    except (TypeError, ValueError):
        log.warning("ignoring unreadable alert starts_at %r", alert.get("starts_at"))
        return None
    return moment if moment < started else None


def record_from_report(report: dict[str, Any]) -> RunRecord:
    """Turn one ``report.json`` into a record; ``KeyError``/``ValueError`` when it lacks readable times."""
    started = _moment(report["started_at"])
    finished = _moment(report["finished_at"])
    params = report.get("params") if isinstance(report.get("params"), dict) else {}
    verdicts = {((step or {}).get("evidence") or {}).get("verdict") for step in report.get("steps") or []}
    return RunRecord(
        run_id=str(report["run_id"]),
        started=started,
        finished=finished,
        outcome=str(report.get("outcome") or "unknown"),
        dry_run=bool(report.get("dry_run")),
        false_alarm=FALSE_ALARM in verdicts,
        alert_started=_alert_start(params or {}, started),
    )


def iter_run_reports(dag_id: str) -> Iterator[dict[str, Any]]:
    """Yield the JSON reports stored for ``dag_id``'s runs, oldest folder name first."""
    folder = ObjectStoragePath(reports_base_url()) / safe_segment(dag_id)
    if not folder.exists():
        return
    for run_folder in sorted(folder.iterdir()):
        path = run_folder / REPORT_FILES["json"]
        if not path.exists():
            continue
        try:
            yield json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("skipping unreadable report %s", path)


def run_history(dag_id: str, window: Window) -> list[RunRecord]:
    """Return the records of ``dag_id``'s runs that started inside ``window``, oldest first."""
    records: list[RunRecord] = []
    for report in iter_run_reports(dag_id):
        try:
            record = record_from_report(report)
        except (KeyError, TypeError, ValueError):
            log.warning("skipping a report of %s without readable times: %s", dag_id, report.get("run_id"))
            continue
        if window.contains(record.started):
            records.append(record)
    return sorted(records, key=lambda r: r.started)


def catalog_effectiveness(catalog: Catalog, window: Window) -> list[RunbookEffectiveness]:
    """Figures of every catalog runbook over ``window``, in catalog order (runbooks without runs included)."""
    found = []
    for runbook in catalog:
        budget = runbook.time_budget
        seconds = budget.total_seconds() if budget is not None else None
        found.append(summarize(runbook.name, seconds, run_history(runbook.dag_id, window)))
    return found
