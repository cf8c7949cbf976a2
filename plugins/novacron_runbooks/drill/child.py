"""What the drill reads back from the DR runbook run it started: the moment that run verified recovery.

The child's run report (``report.json``, written by its ``run_report`` task) lists every step with its
evidence; the verified end is when the child's last own step finished (its verification), not when the
report or the lock release did, and not when the drill's waiting task noticed.
"""

from __future__ import annotations

import json
from datetime import datetime

from novacron_runbooks.dagkit.factory import FRAME_TASKS
from novacron_runbooks.dagkit.report.store import read_report


def verified_end(dag_id: str, run_id: str) -> tuple[datetime | None, str | None]:
    """Return the child's verified end and its report outcome (None, None when no report was written)."""
    text = read_report(dag_id, run_id, "json")
    if text is None:
        return None, None
    report = json.loads(text)
    ends = [
        datetime.fromisoformat(step["evidence"]["finished_at"])
        for step in report.get("steps", [])
        if step["task_id"] not in FRAME_TASKS and step.get("evidence") and step["evidence"].get("finished_at")
    ]
    return (max(ends) if ends else None), str(report.get("outcome"))
