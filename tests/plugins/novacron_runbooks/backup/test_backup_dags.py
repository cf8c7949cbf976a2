"""The three backup DAGs share one builder; the scheduled two are safe to unpause."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).resolve().parents[4] / "dags"
STEPS = ["preflight", "take_backup", "record_backup", "verify_backup", "expire_backups"]


@pytest.fixture(scope="module")
def bag() -> DagBag:
    found = DagBag(dag_folder=str(DAGS))
    assert not found.import_errors
    return found


@pytest.mark.parametrize(
    ("dag_id", "kind", "default_type"),
    [
        ("backup", "runbook", "full"),
        ("backup_hourly", "scheduled", "incr"),
        ("backup_daily", "scheduled", "full"),
    ],
)
def test_same_steps_own_schedule_and_tags(bag, dag_id, kind, default_type):
    dag = bag.get_dag(dag_id)
    assert [t for t in STEPS if t in dag.task_ids] == STEPS
    assert kind in dag.tags and ({"runbook", "scheduled"} - {kind}).isdisjoint(dag.tags)
    assert dag.params["backup_type"] == default_type
    assert dag.catchup is False and dag.max_active_runs == 1
    assert (dag.timetable.__class__.__name__ == "NullTimetable") is (dag_id == "backup")


def test_validation_is_scheduled_daily_and_tears_down(bag):
    dag = bag.get_dag("backup_validation")
    assert "scheduled" in dag.tags and dag.catchup is False and dag.max_active_runs == 1
    assert dag.get_task("teardown_scratch").is_teardown
    assert dag.get_task("prepare_scratch").is_setup
