"""Run a DAG built inside a test with ``dag.test()`` (Airflow 3.3 needs it serialised into a bundle first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

if TYPE_CHECKING:
    from airflow.sdk import DAG


def sync_dag(dag: DAG) -> None:
    """Serialise ``dag`` into the dags-folder bundle of the metadata database, as a DAG processor would."""
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)


def run_dag(dag: DAG, conf: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Serialise ``dag`` into the dags-folder bundle and run it in-process; return the DagRun.

    The escalation timers are dropped: ``dag.test()`` on 3.3.2 cannot evaluate the deadline alerts of a DAG
    it serialises itself (``update_state`` looks the alert dicts up as ids). They run under a live scheduler
    in ``test_escalation_e2e``.
    """
    dag.deadline = None
    sync_dag(dag)
    return dag.test(run_conf=conf or {}, **kwargs)


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}


def respond_when_asked(
    dag_id: str, task_id: str, option: str, user: str = "sre-oncall", timeout: float = 180
) -> Any:
    """Answer a HITL task of ``dag_id`` once it waits, through the REST API's own handler (a person's click).

    ``dag.test()`` runs no API server, so a thread calls the handler of
    ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails`` in-process.
    """
    import threading
    import time

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    answered: dict[str, Any] = {}

    def answer_once() -> bool:
        with create_session() as session:
            pending = session.execute(
                select(TaskInstance.run_id)
                .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id)
                .where(HITLDetail.responded_at.is_(None))
                # answer only once the task is parked: a response that lands between the HITL row's creation
                # and the park is not resumed under SQLite (no row locks), and the run would wait forever
                .where(TaskInstance.state == TaskInstanceState.AWAITING_INPUT)
            ).first()
            if pending is None:
                return False
            update_hitl_detail(
                dag_id=dag_id,
                dag_run_id=pending[0],
                task_id=task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[option]),
                user=SimpleAuthManagerUser(username=user, role="op"),
                session=session,
            )
            answered["run_id"] = pending[0]
            return True

    def answer() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if answer_once():
                    return
            except Exception as exc:  # e.g. SQLite busy while dag.test writes: try again
                answered.setdefault("errors", []).append(repr(exc))
            time.sleep(0.5)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return answered
