"""Wire a metric gate into a runbook DAG: the gate, a branch on its action, and a person's decision.

``metric_gate`` builds::

    gate_<name> >> route_<name> ─┬─> on_proceed
                                 ├─> on_rollback
                                 ├─> freeze_<name>                  (run ends failed, nothing rolled back)
                                 └─> decide_<name> (HITL) ─┬─> on_proceed      "Promote"
                                                           ├─> hold_<name>     "Hold"
                                                           └─> on_rollback     "Roll back" (the default)

``on_proceed`` and ``on_rollback`` get the trigger rule ``none_failed_min_one_success`` because they are
reached from either branch. A gate that cannot decide never promotes by itself: the person's default on
timeout is "Roll back".
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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
    @runbook_step(task_id=task_id, retries=0)
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
    on_proceed, on_rollback = _operator(on_proceed), _operator(on_rollback)
    name = gate.name
    sensor = PrometheusGateSensor(
        task_id=f"gate_{name}",
        gate=gate,
        values=values,
        overrides=overrides,
        route=True,
        notify_channel=notify_channel,
        deferrable=deferrable,
        retries=0,
    )
    freeze = _stop_task(
        f"freeze_{name}", "freeze", f"gate {name} failed; frozen without rollback (on_fail=freeze)"
    )
    hold = _stop_task(
        f"hold_{name}", "hold", f"gate {name}: a person chose to hold; nothing promoted or rolled back"
    )
    decide = RecordedHITLBranchOperator(
        task_id=f"decide_{name}",
        subject=f"Gate {name} could not decide: promote, hold or roll back?",
        body=f"The gate `{name}` on `{gate.query}` was inconclusive or failed with on_fail=pause.",
        options=[PROMOTE, HOLD, ROLL_BACK],
        defaults=[ROLL_BACK],
        options_mapping={
            PROMOTE: on_proceed.task_id,
            HOLD: hold.operator.task_id,
            ROLL_BACK: on_rollback.task_id,
        },
        response_timeout=decision_timeout,
        retries=0,
    )
    targets = {
        "proceed": on_proceed.task_id,
        "rollback": on_rollback.task_id,
        "freeze": freeze.operator.task_id,
        "ask": decide.task_id,
    }

    @task.branch(task_id=f"route_{name}", retries=0)
    def route(**context: Any) -> str:
        ti = context["ti"]
        result = ti.xcom_pull(task_ids=sensor.task_id) or {}
        action = str(result.get("action", "rollback"))
        evidence = Evidence(step=ti.task_id, started_at=utcnow().isoformat(), outcome="success")
        evidence.note(f"gate {name} {result.get('phase')}: {action}")
        if action == "rollback":
            evidence.verdict = "rollback"
        ti.xcom_push(key=EVIDENCE_KEY, value=asdict(evidence))
        return str(targets.get(action, targets["rollback"]))

    router = route()
    sensor >> router >> [on_proceed, on_rollback, freeze, decide]
    decide >> [on_proceed, hold, on_rollback]
    on_proceed.trigger_rule = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    on_rollback.trigger_rule = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    return sensor
