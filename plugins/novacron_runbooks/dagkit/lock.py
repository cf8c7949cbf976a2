"""The deploy/maintenance lock every mutating runbook takes on its target.

``acquire_lock`` is a sensor in reschedule mode: while another runbook holds the target it frees its worker
slot between pokes, and it fails fast (naming the holder) once ``lock_wait_minutes`` has passed, or at once
when that param is 0. A lock whose holder run has already finished is stale and taken over; one held by a run
this Airflow does not know expires after the lease duration. A run started by the lock's holder (its
``parent_run`` param) works under the parent's lock. ``release_lock`` is the teardown, so the lock is
released however the run ends. A dry run only reports who holds the lock.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import PokeReturnValue, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import EVIDENCE_KEY, Evidence

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Context

    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.hooks.lease import LeaseLock

log = logging.getLogger(__name__)
MIN_LEASE = timedelta(minutes=30)
MAX_LOCK_WAIT = timedelta(hours=4)
LOCK_POKE_SECONDS = 15
"""How often a waiting run looks at the lock again: the wait after a release is at most this long."""
FINISHED_RUN_STATES = {"success", "failed"}


def lease_duration(runbook: Runbook) -> timedelta:
    """Twice the runbook's time budget, at least 30 minutes: long enough never to expire under a live run."""
    budget = runbook.time_budget or MIN_LEASE
    return max(MIN_LEASE, budget * 2)


def holder_identity(context: Context | Mapping[str, Any]) -> str:
    dag_run = context["dag_run"]
    return f"{dag_run.dag_id}/{dag_run.run_id}"


def _holder_finished(context: Context | Mapping[str, Any], holder: str) -> bool:
    """Whether the holder is a run of this Airflow that has already ended (its teardown never ran)."""
    dag_id, _, run_id = holder.partition("/")
    try:
        state = context["ti"].get_dagrun_state(dag_id=dag_id, run_id=run_id)
    except Exception:
        log.info("lock holder %s is not a run this Airflow knows; waiting for the lease to expire", holder)
        return False
    return str(getattr(state, "value", state)) in FINISHED_RUN_STATES


def _leave_evidence(context: Mapping[str, Any], started: datetime, error: str) -> None:
    """Give the run report the reason the lock was not taken (who holds it), as a step's evidence."""
    ti = context["ti"]
    evidence = Evidence(step=ti.task_id, started_at=started.isoformat(), outcome="failed", error=error)
    evidence.finished_at = datetime.now(tz=UTC).isoformat()
    ti.xcom_push(key=EVIDENCE_KEY, value=asdict(evidence))


def _lock() -> LeaseLock:
    # the Kubernetes client is imported by the task that takes the lock, never by the DAG file's parse
    from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
    from novacron_runbooks.hooks.lease import LeaseLock

    return LeaseLock(coordination_api(), namespace())


def lock_tasks(runbook: Runbook) -> tuple[Any, Any]:
    """Build the ``acquire_lock`` sensor and its ``release_lock`` teardown for the runbook's target."""
    target = runbook.lock_target
    if target is None:
        raise ValueError(f"runbook {runbook.name!r} has no lock_target")
    duration = lease_duration(runbook)

    # Airflow's reschedule race (apache/airflow#71172, open): when the executor's event for one poke reaches
    # the scheduler after the next poke is already queued, the scheduler fails that poke. On a busy machine
    # the event came 5 s late, so a 5 s poke interval lost three tries in a row (and the run) while a deploy
    # held the lock. 15 s leaves the scheduler three times that lag; the retries cover what still slips
    # through (a poke only reads and conditionally writes the lease, so a retry is safe). A lock held too
    # long raises AirflowFailException, which is never retried.
    @task.sensor(
        task_id="acquire_lock",
        mode="reschedule",
        poke_interval=LOCK_POKE_SECONDS,
        timeout=MAX_LOCK_WAIT.total_seconds(),
        retries=5,
        retry_delay=timedelta(seconds=2),
    )
    def acquire_lock(**context: Any) -> PokeReturnValue:
        lock = _lock()
        holder = holder_identity(context)
        if context["params"].get("dry_run"):
            current = lock.inspect(target)
            return PokeReturnValue(
                True, {"target": target, "dry_run": True, "held_by": current and current.holder}
            )
        existing = lock.inspect(target)
        parent = context["params"].get("parent_run") or ""
        if parent and existing is not None and existing.holder == parent:
            # Started by the run that holds the lock (an incident runbook running rollback): working under
            # its lock is the point; waiting for it would deadlock. release_lock leaves it to the parent.
            return PokeReturnValue(True, {"target": target, "holder": parent, "inherited_from": parent})
        stale = (
            existing is not None and existing.holder != holder and _holder_finished(context, existing.holder)
        )
        state = lock.try_acquire(target, holder, duration, stale=stale)
        if state.holder == holder:
            return PokeReturnValue(
                True, {"target": target, "holder": holder, "took_over": existing and existing.holder}
            )
        first_poke = context["ti"].get_first_reschedule_date(context) or datetime.now(tz=UTC)
        waited = datetime.now(tz=UTC) - first_poke
        allowed = timedelta(minutes=int(context["params"].get("lock_wait_minutes", 0)))
        if waited >= allowed:
            message = (
                f"lock {target!r} is held by {state.holder} (renewed {state.renewed_at.isoformat()}); "
                f"waited {waited.total_seconds():.0f} s of {allowed.total_seconds():.0f} s allowed"
            )
            _leave_evidence(context, first_poke, message)
            raise AirflowFailException(message)
        return PokeReturnValue(False)

    @task(task_id="release_lock", trigger_rule=TriggerRule.ALL_DONE, retries=3)
    def release_lock(**context: Any) -> dict[str, Any]:
        released = _lock().release(target, holder_identity(context))
        return {"target": target, "released": released}

    acquire = acquire_lock()
    release = release_lock()
    return acquire, release.as_teardown(setups=acquire.operator)  # type: ignore[attr-defined]
