"""The emergency rollback runbook after a bad release was promoted, against the sandbox cluster."""

from __future__ import annotations

import json

import pytest
from dag_runner import run_dag, task_states
from release_state import (
    BAD_IMAGE,
    SEED_IMAGE,
    history,
    load_dag,
    promote_bad_release,
    read_state,
    reset_release_state,
    resource_versions,
)

from novacron_runbooks.dagkit.report.store import read_report

pytestmark = pytest.mark.sandbox


@pytest.fixture
def seeded(sandbox):
    # their gates judge one release's own requests: no need to wait for the service's error ratio to settle
    reset_release_state(healthy=False)
    yield sandbox
    reset_release_state(healthy=False)


def rollback(**conf):
    return run_dag(load_dag("rollback"), {"dry_run": False, "reason": "INC-7 errors after 1.5.0", **conf})


def report_json(run) -> dict:
    return json.loads(read_report("rollback", run.run_id, "json"))


@pytest.mark.parametrize("keep_old_colour", [True, False], ids=["old-colour-up", "old-colour-gone"])
def test_rollback_after_a_promoted_bad_release_restores_the_last_good_one(seeded, keep_old_colour):
    promote_bad_release(keep_old_colour)
    run = rollback()
    states = task_states(run)
    assert run.state == "success", states
    state = read_state()
    assert state.active == "blue"
    assert state.active_image == SEED_IMAGE
    assert state.ready["blue"] == 3
    assert state.replicas["green"] == 0
    records = history()
    assert [(r.image, r.result) for r in records] == [
        (SEED_IMAGE, "adopted"),
        (BAD_IMAGE, "rolled-back"),
        (SEED_IMAGE, "restored"),
    ]
    report = report_json(run)
    assert report["outcome"] == "success"
    target = next(t for t in report["targets"] if t["name"] == "time_to_recover_seconds")
    assert 0 < target["measured_seconds"] <= target["target_seconds"] == 300
    steps = {s["task_id"]: s["evidence"] for s in report["steps"]}
    assert ("switch back" in steps["find_release"]["notes"][0]) is keep_old_colour
    # the switch is confirmed where users are: their requests answered by the restored release
    assert 0 <= steps["restore_traffic"]["metrics"]["users_on_release_seconds"] < 30


def test_unknown_target_revision_is_refused_before_anything_changes(seeded):
    promote_bad_release(keep_old_colour=True)
    before = resource_versions()
    run = rollback(target_revision="42")
    states = task_states(run)
    assert states["find_release"] == "failed"
    assert states["restore_traffic"] == "upstream_failed"
    assert resource_versions() == before
    assert "param 'target_revision': revision 42 is not in the history" in read_report(
        "rollback", run.run_id, "markdown"
    )


def test_without_history_previous_cannot_be_guessed(seeded):
    before = resource_versions()
    run = rollback()
    assert task_states(run)["find_release"] == "failed"
    assert "no earlier good release" in read_report("rollback", run.run_id, "markdown")
    assert resource_versions() == before


def test_dry_run_is_the_default_and_changes_nothing(seeded):
    promote_bad_release(keep_old_colour=True)
    before = resource_versions()
    run = run_dag(load_dag("rollback"), {})
    # the dry run's gate measures what serves now: the bad release, so it says the service is not recovered
    assert task_states(run)["gate_recovered"] == "failed"
    assert resource_versions() == before
    report = read_report("rollback", run.run_id, "markdown")
    assert "selector color green → blue" in report
