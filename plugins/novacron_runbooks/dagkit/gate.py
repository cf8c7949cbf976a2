"""Wire a metric gate into a runbook DAG: the gate, a branch on its action, and a person's decision.

``metric_gate`` builds::

    gate_<name> >> route_<name> ─┬─> <name>_proceed  >> on_proceed
                                 ├─> <name>_rollback >> on_rollback
                                 ├─> freeze_<name>                  (run ends failed, nothing rolled back)
                                 └─> decide_<name> (HITL) ─┬─> <name>_proceed     "Promote"
                                                           ├─> hold_<name>        "Hold"
                                                           └─> <name>_rollback    "Roll back" (the default)

The branches land on ``<name>_proceed`` and ``<name>_rollback``, empty tasks reached from the route or from
the person. ``on_proceed`` and ``on_rollback`` keep their own trigger rule, so an action that also takes a
plan or a revision from earlier tasks runs only when its branch was taken. A gate that cannot decide never
promotes by itself: the person's default on timeout is "Roll back".

``route_gate`` builds the same routing behind an analysis task that already exists (any task whose return
value is ``{"action": ..., "phase": ...}``), e.g. the canary's step loop, which runs several gates per step.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import EVIDENCE_KEY, Evidence, current_evidence, runbook_step, utcnow
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

    from novacron_runbooks.gates.spec import GateSpec

PROMOTE, HOLD, ROLL_BACK = "Promote", "Hold", "Roll back"


def _operator(node: Any) -> BaseOperator:
    """Accept an operator or the XComArg a TaskFlow call returns."""
    operator: BaseOperator = node.operator if hasattr(node, "operator") else node
    return operator


def _stop_task(task_id: str, verdict: str, why: str) -> Any:
    @runbook_step(task_id=task_id)
    def stop() -> None:
        current_evidence().verdict = verdict
        raise AirflowFailException(why)

    return stop()


def metric_gate(
    gate: GateSpec,
    *,
    on_proceed: BaseOperator | Any,
    on_rollback: BaseOperator | Any,
    values: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    notify_channel: str | None = None,
    decision_timeout: timedelta = timedelta(minutes=15),
    deferrable: bool = True,
) -> PrometheusGateSensor:
    """Add the gate and its routing to the current DAG; return the gate sensor (wire its upstream)."""
    sensor = PrometheusGateSensor(
        task_id=f"gate_{gate.name}",
        gate=gate,
        values=values,
        overrides=overrides,
        route=True,
        notify_channel=notify_channel,
        deferrable=deferrable,
        retries=0,
    )
    route_gate(
        sensor,
        gate.name,
        on_proceed=on_proceed,
        on_rollback=on_rollback,
        body=f"The gate `{gate.name}` on `{gate.query}` was inconclusive or failed with on_fail=pause.",
        decision_timeout=decision_timeout,
    )
    return sensor


def route_gate(
    analysis: BaseOperator | Any,
    name: str,
    *,
    on_proceed: BaseOperator | Any,
    on_rollback: BaseOperator | Any,
    body: str,
    decision_timeout: timedelta = timedelta(minutes=15),
) -> None:
    """Branch on the action ``analysis`` returned: proceed, roll back, freeze, or ask a person.

    :param analysis: the task that analysed (its return value holds ``action`` and ``phase``).
    :param name: names the routing tasks ``route_<name>``, ``decide_<name>``, ``hold_<name>`` and
        ``freeze_<name>``.
    :param body: what the person deciding is told (Markdown).
    """
    analysis = _operator(analysis)
    on_proceed, on_rollback = _operator(on_proceed), _operator(on_rollback)
    # Landing tasks take the branch; the action tasks keep their own trigger rule (all_success), so an
    # action that also reads other tasks' results (a plan, a revision) cannot run on those alone.
    proceed = EmptyOperator(task_id=f"{name}_proceed", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    rollback = EmptyOperator(task_id=f"{name}_rollback", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    freeze = _stop_task(
        f"freeze_{name}", "freeze", f"gate {name} failed; frozen without rollback (on_fail=freeze)"
    )
    hold = _stop_task(
        f"hold_{name}", "hold", f"gate {name}: a person chose to hold; nothing promoted or rolled back"
    )
    decide = RecordedHITLBranchOperator(
        task_id=f"decide_{name}",
        subject=f"Gate {name} could not decide: promote, hold or roll back?",
        body=body,
        options=[PROMOTE, HOLD, ROLL_BACK],
        defaults=[ROLL_BACK],
        options_mapping={
            PROMOTE: proceed.task_id,
            HOLD: hold.operator.task_id,
            ROLL_BACK: rollback.task_id,
        },
        response_timeout=decision_timeout,
        retries=0,
    )
    targets = {
        "proceed": proceed.task_id,
        "rollback": rollback.task_id,
        "freeze": freeze.operator.task_id,
        "ask": decide.task_id,
    }

    @task.branch(task_id=f"route_{name}")
    def route(**context: Any) -> str:
        ti = context["ti"]
        result = ti.xcom_pull(task_ids=analysis.task_id) or {}
        action = str(result.get("action", "rollback"))
        evidence = Evidence(step=ti.task_id, started_at=utcnow().isoformat(), outcome="success")
        evidence.note(f"gate {name} {result.get('phase')}: {action}")
        if action == "rollback":
            evidence.verdict = "rollback"
        ti.xcom_push(key=EVIDENCE_KEY, value=asdict(evidence))
        return str(targets.get(action, targets["rollback"]))

    router = route()
    analysis >> router >> [proceed, rollback, freeze, decide]
    decide >> [proceed, hold, rollback]
    proceed >> on_proceed
    rollback >> on_rollback
