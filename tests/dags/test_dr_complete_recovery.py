"""The full rebuild's shape: children only when needed, verification before a cut-over a person must approve.

A live run needs a scheduler for its child runs (``dag.test()`` runs only the parent); its pieces run in the
dr_service_failure tests and the rebuild unit tests.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from release_state import load_dag

from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator


def test_children_run_only_when_needed_and_traffic_moves_only_after_verification_and_approval():
    dag = load_dag("dr_complete_recovery")
    tasks = dag.task_dict

    assert tasks["route_database"].downstream_task_ids == {"recover_database", "database_healthy"}
    children = {t.trigger_dag_id: t for t in dag.tasks if isinstance(t, TriggerDagRunOperator)}
    assert set(children) == {"dr_database_failure", "dr_service_failure"}
    for child in children.values():
        assert child.wait_for_completion and child.reset_dag_run and child.fail_when_dag_is_paused
        assert child.failed_states == ["failed"]
        assert child.trigger_run_id.startswith("{{ run_id }}__")
    services = children["dr_service_failure"]
    # it runs whether the database child ran or was skipped
    assert services.trigger_rule == "none_failed_min_one_success"
    assert {"recover_database", "database_healthy", "services_conf"} <= services.upstream_task_ids

    approve = tasks["approve_cutover"]
    assert isinstance(approve, RecordedHITLBranchOperator)
    assert approve.defaults == ["Reject"]
    assert approve.options_mapping == {"Cut over": "cut_over", "Reject": "cutover_rejected"}
    assert tasks["route_cutover"].downstream_task_ids == {"approve_cutover", "cut_over"}

    before_cutover = tasks["cut_over"].get_flat_relative_ids(upstream=True)
    for stage in ("recover_services", "recover_agents", "verify_database", "verify_api", "approve_cutover"):
        assert stage in before_cutover, f"{stage} must come before the cut-over"
    assert tasks["gate_serving"].upstream_task_ids == {"cut_over"}
    assert "gate_serving" in tasks["record_recovery"].upstream_task_ids
    assert dag.task_ids[0] == "validate_params"
    assert "acquire_lock" in tasks["assess_platform"].upstream_task_ids
