from __future__ import annotations

from airflow.sdk import task

from novacron_runbooks.dagkit.factory import runbook_dag


def test_mutating_runbook_is_framed_by_validation_lock_teardown_and_report():
    with runbook_dag("scale_up") as rb:

        @task
        def raise_replicas() -> None:
            return None

        @task
        def verify() -> None:
            return None

        raise_replicas() >> verify()

    dag = rb.dag
    upstream = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "validate_params": [],
        "acquire_lock": ["validate_params"],
        "raise_replicas": ["acquire_lock"],
        "verify": ["raise_replicas"],
        "release_lock": ["acquire_lock", "verify"],
        "run_report": ["release_lock"],
    }
    assert dag.get_task("release_lock").is_teardown
    assert dag.get_task("run_report").trigger_rule == "all_done"
    assert dag.get_task("acquire_lock").mode == "reschedule"
    assert dag.dag_id == "scale_up" and "scaling" in dag.tags


def test_read_only_runbook_has_no_lock():
    with runbook_dag("debug_api") as rb:

        @task
        def diagnose() -> None:
            return None

        diagnose()

    assert rb.dag.task_ids == ["validate_params", "diagnose", "run_report"]
    assert rb.dag.deadline is None


def test_escalating_runbook_carries_deadlines():
    with runbook_dag("service_down") as rb:

        @task
        def check_pods() -> None:
            return None

        check_pods()

    assert rb.dag.deadline and len(rb.dag.deadline) == 3
