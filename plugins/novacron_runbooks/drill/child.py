"""What the drill reads back from the DR runbook run it started: the moment that run verified recovery.

The child's run report (``report.json``, written by its ``run_report`` task) lists every step with its
evidence. The verified end is when the step that recorded the child's own ``rto_seconds`` finished (its
verification: the point where the runbook declares the service back); a runbook that records none is taken
to have verified at the end of its last own step. Neither the report, the lock release nor the moment the
drill's waiting task noticed counts, and neither does work after the verification (a replica rebuilt).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from novacron_runbooks.dagkit.factory import FRAME_TASKS
from novacron_runbooks.dagkit.report.store import read_report

RTO_METRIC = "rto_seconds"


def verified_at(steps: list[dict[str, Any]]) -> datetime | None:
    """Return the end of the step that recorded the RTO, else of the last own step that finished."""
    own = [
        step["evidence"]
        for step in steps
        if step["task_id"] not in FRAME_TASKS and step.get("evidence") and step["evidence"].get("finished_at")
    ]
    declared = [e for e in own if RTO_METRIC in (e.get("metrics") or {})]
    ends = [datetime.fromisoformat(e["finished_at"]) for e in (declared or own)]
    return max(ends) if ends else None


def verified_end(dag_id: str, run_id: str) -> tuple[datetime | None, str | None]:
    """Return the child's verified end and its report outcome (None, None when no report was written)."""
    text = read_report(dag_id, run_id, "json")
    if text is None:
        return None, None
    report = json.loads(text)
    return verified_at(report.get("steps", [])), str(report.get("outcome"))
