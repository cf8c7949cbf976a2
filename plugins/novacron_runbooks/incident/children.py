"""Remedy runbooks started by an incident runbook: as child runs under its lock, waited for.

The child gets ``parent_run`` (so it works under the incident's deploy lock instead of waiting for it), the
reason the policy chose it, and ``dry_run`` false: an incident in dry run never starts a child. Its run id
derives from the incident's, so a cleared task reruns the same child run instead of starting a second one.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

POKE_SECONDS = 5


def child_task_id(remedy: str) -> str:
    return f"run_{remedy}"


def child_run(incident: str, remedy: str, plan_task: str) -> TriggerDagRunOperator:
    """Run ``remedy`` as a child of the ``incident`` run and wait for it; ``plan_task`` returned ``why``."""
    return TriggerDagRunOperator(
        task_id=child_task_id(remedy),
        trigger_dag_id=remedy,
        trigger_run_id="{{ run_id }}__" + remedy,
        conf={
            "dry_run": False,
            "reason": f"{incident} {{{{ run_id }}}}: {{{{ ti.xcom_pull(task_ids='{plan_task}')['why'] }}}}",
            "parent_run": "{{ dag.dag_id }}/{{ run_id }}",
        },
        reset_dag_run=True,
        wait_for_completion=True,
        poke_interval=POKE_SECONDS,
        allowed_states=["success"],
        failed_states=["failed"],
        fail_when_dag_is_paused=True,
        deferrable=True,
    )
