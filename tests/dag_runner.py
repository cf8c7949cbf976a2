"""Run a DAG built inside a test with ``dag.test()`` (Airflow 3.3 needs it serialised into a bundle first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

if TYPE_CHECKING:
    from airflow.sdk import DAG


def run_dag(dag: DAG, conf: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Serialise ``dag`` into the dags-folder bundle and run it in-process; return the DagRun."""
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    return dag.test(run_conf=conf or {}, **kwargs)


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}
