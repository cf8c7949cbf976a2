"""Remedy runbooks started by an incident runbook: as child runs under its lock, waited for.

The child gets ``parent_run`` (so it works under the incident's deploy lock instead of waiting for it), the
reason the policy chose it, and ``dry_run`` false: an incident in dry run never starts a child. Its run id
derives from the incident's, so a cleared task reruns the same child run instead of starting a second one.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

POKE_SECONDS = 5


def child_task_id(remedy: str) -> str:
    return f"run_{remedy}"


def child_run(incident: str, remedy: str, plan_task: str) -> TriggerDagRunOperator:
    """Run ``remedy`` as a child of the ``incident`` run and wait for it; ``plan_task`` returned ``why``."""
    reason = f"{incident} {{{{ run_id }}}}: {{{{ ti.xcom_pull(task_ids='{plan_task}')['why'] }}}}"
    return locked_child_run(child_task_id(remedy), remedy, reason)


def locked_child_run(
    task_id: str,
    child: str,
    reason: str,
    conf: dict[str, Any] | None = None,
    poke_seconds: int = POKE_SECONDS,
) -> TriggerDagRunOperator:
    """Run ``child`` under this run's lock (``parent_run``), ``dry_run`` false, and wait for its outcome.

    Any runbook that hands work to another one uses this (incidents, ``upgrade`` through ``canary``): the run
    id derives from the parent's, so a cleared task reruns the same child instead of starting a second one.
    """
    return TriggerDagRunOperator(
        task_id=task_id,
        trigger_dag_id=child,
        trigger_run_id="{{ run_id }}__" + child,
        conf={
            **(conf or {}),
            "dry_run": False,
            "reason": reason,
            "parent_run": "{{ dag.dag_id }}/{{ run_id }}",
        },
        reset_dag_run=True,
        wait_for_completion=True,
        poke_interval=poke_seconds,
        allowed_states=["success"],
        failed_states=["failed"],
        fail_when_dag_is_paused=True,
        deferrable=True,
    )
