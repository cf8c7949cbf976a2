"""Collect a :class:`RunReport` from inside the run's final task.

Task states and durations come from the Task SDK's breadcrumbs (terminal task instances of this run); what
each step measured and changed comes from its evidence XCom; approvals from the HITL tasks' results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from novacron_runbooks.dagkit.evidence import EVIDENCE_KEY
from novacron_runbooks.dagkit.report.model import Approval, RunReport, StepResult, TargetCheck
from novacron_runbooks.operators.hitl import APPROVAL_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Context

    from novacron_runbooks.catalog import Runbook

HITL_OPERATORS = {
    "ApprovalOperator",
    "HITLOperator",
    "HITLBranchOperator",
    "HITLEntryOperator",
    "RecordedHITLBranchOperator",
    "SecondPersonApprovalOperator",
    "SeverityApprovalOperator",
}


def objective_target_seconds(runbook: Runbook, metric: str) -> float | None:
    """Return the catalog's target for a measured figure: RTO, RPO, or a threshold of the same name."""
    if metric == "rto_seconds" and runbook.rto is not None and runbook.rto.max_minutes is not None:
        return runbook.rto.max_minutes * 60
    if metric == "rpo_seconds" and runbook.rpo is not None and runbook.rpo.max_minutes is not None:
        return runbook.rpo.max_minutes * 60
    threshold = runbook.thresholds.get(metric.removesuffix("_seconds"))
    if threshold is None:
        return None
    return {"seconds": threshold.value, "minutes": threshold.value * 60}.get(threshold.unit)


def _approval(task_id: str, result: Any) -> Approval | None:
    if not isinstance(result, dict) or "chosen_options" not in result:
        return None
    user = result.get("responded_by_user") or {}
    who = user.get("name") or user.get("id") or "timeout default"
    return Approval(task_id, list(result["chosen_options"]), str(who), str(result.get("responded_at")))


def _plain(value: Any) -> str:
    """Enum members (``DagRunType.MANUAL``) as their value (``manual``)."""
    return str(getattr(value, "value", value))


def _masked_params(runbook: Runbook, params: dict[str, Any]) -> dict[str, Any]:
    secret = {name for name, spec in runbook.params.items() if spec.get("secret")}
    return {name: ("***" if name in secret else value) for name, value in params.items()}


def collect_report(context: Context | Mapping[str, Any], runbook: Runbook) -> RunReport:
    ti = context["ti"]
    dag_run = context["dag_run"]
    runtime_ti = cast("Any", ti)  # the Task SDK's protocol type omits get_task_breadcrumbs
    found = runtime_ti.get_task_breadcrumbs(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
    crumbs = {c["task_id"]: c for c in found}
    steps: list[StepResult] = []
    approvals: list[Approval] = []
    targets: list[TargetCheck] = []
    for task_id in context["dag"].task_ids:
        if task_id == ti.task_id:
            continue
        crumb = crumbs.get(task_id, {})
        evidence = ti.xcom_pull(task_ids=task_id, key=EVIDENCE_KEY)
        steps.append(
            StepResult(
                task_id=task_id,
                state=str(crumb.get("state") or "not run"),
                operator=str(crumb.get("operator") or ""),
                duration_seconds=crumb.get("duration"),
                evidence=evidence if isinstance(evidence, dict) else None,
            )
        )
        if crumb.get("operator") in HITL_OPERATORS:
            response = ti.xcom_pull(task_ids=task_id, key=APPROVAL_KEY) or ti.xcom_pull(task_ids=task_id)
            approval = _approval(task_id, response)
            if approval:
                approvals.append(approval)
        for name, value in (
            ((evidence or {}).get("metrics") or {}).items() if isinstance(evidence, dict) else ()
        ):
            targets.append(TargetCheck(name, float(value), objective_target_seconds(runbook, name)))
    user = getattr(dag_run, "triggering_user_name", None)
    triggered_by = _plain(getattr(dag_run, "triggered_by", None) or dag_run.run_type)
    params = dict(context["params"])
    finished = datetime.now(tz=UTC)
    started = dag_run.start_date
    return RunReport(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        title=runbook.title,
        run_type=_plain(dag_run.run_type),
        triggered_by=f"{triggered_by} ({user})" if user else triggered_by,
        started_at=str(dag_run.start_date),
        finished_at=finished.isoformat(),
        params=_masked_params(runbook, params),
        steps=steps,
        approvals=approvals,
        targets=targets,
        dry_run=bool(params.get("dry_run", False)),
        duration_seconds=(finished - started).total_seconds() if started else None,
    )
