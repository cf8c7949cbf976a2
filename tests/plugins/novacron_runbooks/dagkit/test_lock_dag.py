"""The lock tasks inside a real DAG run (dag.test) against the emulated cluster."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from dag_runner import run_dag, task_states

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
from novacron_runbooks.hooks.lease import LeaseLock

pytestmark = pytest.mark.sandbox
TARGET = "lock-probe-target"


def _probe_dag():
    runbook = dataclasses.replace(default_catalog().get("scale_up"), name="lock_probe", lock_target=TARGET)
    with runbook_dag("lock_probe", runbook=runbook) as rb:

        @runbook_step
        def act() -> str:
            state = LeaseLock(coordination_api(), namespace()).inspect(TARGET)
            holder = state.holder if state else None
            current_evidence().measure("lock holder during the step", holder, "recorded")
            return str(holder)

        act()
    return rb.dag


@pytest.fixture
def lock(sandbox) -> LeaseLock:
    lock = LeaseLock(coordination_api(), namespace())
    state = lock.inspect(TARGET)
    if state is not None:
        lock.release(TARGET, state.holder)
    return lock


def test_lock_is_held_during_the_steps_and_released_after(lock):
    dag = _probe_dag()
    run = run_dag(dag, {"dry_run": False})
    assert run.state == "success"
    assert lock.inspect(TARGET) is None
    report = read_report("lock_probe", run.run_id, "markdown")
    assert f"lock_probe/{run.run_id}" in report  # the step saw its own run as the holder


def test_held_lock_fails_fast_naming_the_holder(lock):
    lock.try_acquire(TARGET, "deployment/someone-else", timedelta(hours=1))
    dag = _probe_dag()
    run = run_dag(dag, {"dry_run": False, "lock_wait_minutes": 0})
    assert run.state == "failed"
    states = task_states(run)
    assert states["acquire_lock"] == "failed"
    assert states["act"] == "upstream_failed"
    assert lock.inspect(TARGET).holder == "deployment/someone-else"  # untouched
    report = read_report("lock_probe", run.run_id, "markdown")
    assert "FAILED" in report
    lock.release(TARGET, "deployment/someone-else")


def test_dry_run_only_reports_the_holder(lock):
    lock.try_acquire(TARGET, "deployment/someone-else", timedelta(hours=1))
    dag = _probe_dag()
    run = run_dag(dag, {"dry_run": True, "lock_wait_minutes": 0})
    assert run.state == "success"
    assert lock.inspect(TARGET).holder == "deployment/someone-else"
    lock.release(TARGET, "deployment/someone-else")


def test_lock_of_a_finished_run_is_taken_over(lock):
    dag = _probe_dag()
    first = run_dag(dag, {"dry_run": False})
    lock.try_acquire(TARGET, f"lock_probe/{first.run_id}", timedelta(hours=1))  # as if its teardown never ran
    second = run_dag(dag, {"dry_run": False, "lock_wait_minutes": 0})
    assert second.state == "success"
    assert lock.inspect(TARGET) is None


def test_child_of_the_holder_works_under_its_lock_and_leaves_it(lock):
    """An incident runbook holding the lock starts rollback: the child must not wait for its own parent."""
    lock.try_acquire(TARGET, "high_error_rate/incident-1", timedelta(hours=1))
    dag = _probe_dag()
    run = run_dag(dag, {"dry_run": False, "lock_wait_minutes": 0, "parent_run": "high_error_rate/incident-1"})
    assert run.state == "success"
    assert lock.inspect(TARGET).holder == "high_error_rate/incident-1"  # still the parent's
    report = read_report("lock_probe", run.run_id, "markdown")
    assert "high_error_rate/incident-1" in report  # the step saw the parent as the holder
    lock.release(TARGET, "high_error_rate/incident-1")


def test_parent_run_that_does_not_hold_the_lock_gets_no_pass(lock):
    lock.try_acquire(TARGET, "deployment/someone-else", timedelta(hours=1))
    dag = _probe_dag()
    run = run_dag(dag, {"dry_run": False, "lock_wait_minutes": 0, "parent_run": "high_error_rate/incident-2"})
    assert run.state == "failed"
    assert task_states(run)["acquire_lock"] == "failed"
    lock.release(TARGET, "deployment/someone-else")
