"""The bridge's work in Airflow's metadata database, inside the API server: find, start and annotate runs.

Runs are created the way Airflow's own ``POST /api/v2/dags/{dag_id}/dagRuns`` creates them (the latest
serialized DAG, its params validated), with a run id derived from the alert group: ``alert__<hash of the
groupKey>__<first startsAt>``. Duplicate deliveries of one firing episode therefore compute the same id, and
Airflow's unique (dag_id, run_id) constraint lets exactly one of them in, in any number of API server
workers; a later episode of the group (new startsAt) is held back while the group's run is still active.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow.models.dagbag import DBDagBag
    from sqlalchemy.orm import Session

RUN_PREFIX = "alert__"
TRIGGERING_USER = "alertmanager"
ACTIVE = (DagRunState.QUEUED, DagRunState.RUNNING)


class Refused(Exception):
    """The alert's runbook cannot be started from an alert; the reason is returned to Alertmanager."""


class NotServed(Exception):
    """The runbook's DAG is not served by this Airflow right now: not parsed yet, stale, or failing to import.

    Unlike :class:`Refused` this can pass (an API server that started before its DAG processor's first parse,
    a DAG file broken by a deploy), so Alertmanager is asked to deliver again rather than told it is done: an
    answer of 200 would hold the alert back until its ``repeat_interval`` (hours in production).
    """


class AlreadyStarted(Exception):
    """Another delivery of the same firing episode created the run first."""


def group_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()[:16]


def run_id_for(group_key: str, starts_at: datetime) -> str:
    started = starts_at.astimezone(UTC)
    return f"{RUN_PREFIX}{group_hash(group_key)}__{started:%Y%m%dT%H%M%SZ}"


@functools.cache
def _dag_bag() -> DBDagBag:
    from airflow.api_fastapi.common.dagbag import create_dag_bag

    return create_dag_bag()


def target_dag(session: Session, dag_id: str) -> tuple[Any, bool]:
    """Return the DAG to start and whether it is paused.

    :class:`NotServed` when the DAG is not (yet) there to start, :class:`Refused` when it cannot take alerts.
    """
    model = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
    if model is None or model.is_stale:
        raise NotServed(f"runbook {dag_id!r} has no DAG in this Airflow (yet)")
    if model.has_import_errors:
        raise NotServed(f"DAG {dag_id!r} has import errors")
    dag = _dag_bag().get_latest_version_of_dag(dag_id, session=session)
    if dag is None:
        raise NotServed(f"DAG {dag_id!r} is not serialized yet")
    if "alert" not in dag.params:
        raise Refused(f"DAG {dag_id!r} does not take the 'alert' param")
    return dag, bool(model.is_paused)


def _group_runs(dag_id: str, group: str) -> Any:
    return (
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.run_id.startswith(f"{RUN_PREFIX}{group}__", autoescape=True))
        .order_by(DagRun.run_after.desc())
    )


def active_run(session: Session, dag_id: str, group: str) -> DagRun | None:
    return session.scalars(_group_runs(dag_id, group).where(DagRun.state.in_(ACTIVE)).limit(1)).first()


def latest_run(session: Session, dag_id: str, group: str) -> DagRun | None:
    return session.scalars(_group_runs(dag_id, group).limit(1)).first()


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun | None:
    return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def started_since(session: Session, dag_id: str, window: timedelta) -> int:
    """Alert-started runs of ``dag_id`` within the breaker's window (whatever their outcome)."""
    since = datetime.now(UTC) - window
    query = select(func.count()).where(
        DagRun.dag_id == dag_id,
        DagRun.run_id.startswith(RUN_PREFIX, autoescape=True),
        DagRun.run_after >= since,
    )
    return int(session.scalar(query) or 0)


def start_run(session: Session, dag: Any, run_id: str, conf: dict[str, Any], note: str) -> DagRun:
    """Create the queued run; Airflow checks ``conf`` against the DAG's params (``ParamValidationError``)."""
    try:
        run: DagRun = dag.create_dagrun(
            run_id=run_id,
            logical_date=None,
            run_after=datetime.now(UTC),
            conf=conf,
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.REST_API,
            triggering_user_name=TRIGGERING_USER,
            state=DagRunState.QUEUED,
            note=note,
            session=session,
        )
    except IntegrityError:
        # Only reads happened before in this transaction: nothing is lost by rolling it back.
        session.rollback()
        raise AlreadyStarted(run_id) from None
    return run
