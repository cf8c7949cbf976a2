"""Child runbook runs of a full rebuild: what they are told, how they are named, what they measured.

Children get the parent's reason, alert and dry-run switch, plus ``parent_run`` (a child whose lock target
the parent holds works under the parent's lock). Their run ids derive from the parent's, so a cleared parent
task resets and reruns the same child run (the DR runbooks are idempotent) instead of starting a second one,
and the parent finds the child's run report to take its RTO and RPO.
"""

from __future__ import annotations

import json
from typing import Any

from novacron_runbooks.dagkit.report.store import read_report

DATABASE_CHILD = "dr_database_failure"
SERVICES_CHILD = "dr_service_failure"
STAGES = {DATABASE_CHILD: "database", SERVICES_CHILD: "services"}


def child_run_id(parent_run_id: str, child_dag_id: str) -> str:
    return f"{parent_run_id}__{STAGES[child_dag_id]}"


def child_conf(params: dict[str, Any], parent: str, **extra: Any) -> dict[str, Any]:
    """Conf of a child run: only params every mutating runbook declares, plus ``extra`` the child declares."""
    return {
        "reason": params.get("reason") or "",
        "alert": params.get("alert") or {},
        "dry_run": bool(params["dry_run"]),
        "parent_run": parent,
        **extra,
    }


def child_figures(child_dag_id: str, run_id: str) -> dict[str, float]:
    """Return the figures a child run measured (``rto_seconds``, ``rpo_seconds``); {} without a report."""
    raw = read_report(child_dag_id, run_id, "json")
    if not raw:
        return {}
    targets = json.loads(raw).get("targets") or []
    return {str(t["name"]): float(t["measured_seconds"]) for t in targets}


def platform_rpo(database_recovered: bool, database_figures: dict[str, float]) -> float | None:
    """Return the rebuild's RPO: the database child's, 0 when the primary never went away, None when unknown.

    A database child that ran but reported no RPO leaves it unknown: the report must not claim a 0 it did not
    measure.
    """
    if not database_recovered:
        return 0.0
    return database_figures.get("rpo_seconds")
