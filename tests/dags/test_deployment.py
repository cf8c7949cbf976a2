"""The blue-green deployment runbook against the sandbox's emulated cluster, the API stand-in and Prometheus.

Releases misbehave by tag in the stand-in: ``bad`` fails ~30% of all requests (the smoke check sees it),
``regress`` fails ~60% of one endpoint the smoke check does not call (only production traffic sees it), and
``pullerror`` never starts (the emulator's kubelet reports ImagePullBackOff).
"""

from __future__ import annotations

import json

import pytest
from backup_helpers import eventually
from dag_runner import run_dag, task_states
from release_state import (
    GOOD_IMAGE,
    PREFLIGHT_WINDOW,
    SEED_IMAGE,
    history,
    load_dag,
    read_state,
    reset_release_state,
    resource_versions,
    service_error_ratio,
)

from novacron_runbooks.dagkit.report.store import read_report
from sandbox.faults import set_fault

pytestmark = pytest.mark.sandbox

FAST = {"analysis_seconds": 20, "scale_down_delay_seconds": 0, "rollout_timeout_seconds": 60}


@pytest.fixture
def seeded(sandbox):
    reset_release_state()
    yield sandbox
    reset_release_state(healthy=False)  # the next test that needs the service at rest waits for it itself


def deploy(image: str, **conf):
    dag = load_dag("deployment")
    return run_dag(dag, {"image": image, "change_ticket": "CHG-1", **FAST, **conf})


def report_of(run) -> str:
    return read_report("deployment", run.run_id, "markdown")


def test_good_release_is_promoted_and_recorded(seeded):
    run = deploy(GOOD_IMAGE)
    states = task_states(run)
    assert run.state == "success", states
    state = read_state()
    assert state.active == "green"
    assert state.images["green"] == GOOD_IMAGE
    assert state.ready["green"] == 3
    assert state.replicas["blue"] == 0  # old colour scaled down after the (zero) delay
    records = history()
    assert [(r.image, r.result) for r in records] == [(SEED_IMAGE, "adopted"), (GOOD_IMAGE, "promoted")]
    assert records[1].replaced == records[0].revision
    assert records[1].change_ticket == "CHG-1"
    assert states["switch_back"] == "skipped"


def test_release_failing_in_production_is_switched_back_automatically(seeded):
    image = "registry.novacron.io/novacron/api:1.5.0-regress"
    run = deploy(image)
    states = task_states(run)
    assert states["smoke_check"] == "success", states  # the defect is in an endpoint the smoke check misses
    assert states["switch_traffic"] == "success"
    assert states["switch_back"] == "success", states
    assert states["record_promoted"] == "skipped"
    assert run.state == "failed"
    state = read_state()
    assert state.active == "blue"
    assert state.active_image == SEED_IMAGE
    assert state.ready["blue"] == 3
    assert state.replicas["green"] == 0
    assert [(r.image, r.result) for r in history()][-1] == (image, "rolled-back")
    assert "ROLLED-BACK" in report_of(run)


def test_release_failing_its_smoke_check_never_gets_traffic(seeded):
    image = "registry.novacron.io/novacron/api:1.5.0-bad"
    run = deploy(image)
    states = task_states(run)
    assert states["smoke_check"] == "failed"
    assert states["switch_traffic"] != "success"
    assert states["clean_up_failed_rollout"] == "success"
    state = read_state()
    assert (state.active, state.active_image, state.replicas["green"]) == ("blue", SEED_IMAGE, 0)
    assert history()[-1].result == "failed"


def test_rollout_whose_pods_never_become_ready_aborts_before_the_switch(seeded):
    image = "registry.novacron.io/novacron/api:1.5.0-pullerror"
    run = deploy(image, rollout_timeout_seconds=300)
    states = task_states(run)
    assert states["wait_idle_ready"] == "failed"
    assert states["switch_traffic"] in ("upstream_failed", "skipped")
    assert states["clean_up_failed_rollout"] == "success"
    assert "ImagePullBackOff" in report_of(run)
    state = read_state()
    assert (state.active, state.replicas["green"]) == ("blue", 0)


def test_dry_run_changes_nothing_and_still_evaluates_the_gates(seeded):
    before = resource_versions()
    run = deploy(GOOD_IMAGE, dry_run=True)
    states = task_states(run)
    assert run.state == "success", states
    assert resource_versions() == before
    report = report_of(run)
    assert "DRY-RUN" in report
    assert "gate pre_promotion: successful" in report
    assert states["gate_post_promotion"] == "success"


def test_image_already_live_is_a_no_op(seeded):
    before = resource_versions()
    run = deploy(SEED_IMAGE)
    states = task_states(run)
    assert states["preflight"] == "skipped"
    assert states["deploy_idle"] == "skipped"
    assert resource_versions() == before


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"image": "registry.novacron.io/novacron/api:1.5.0;rm -rf /"}, "image"),
        ({"image": "registry.novacron.io/novacron/api"}, "image"),
        ({"change_ticket": "not a ticket"}, "change_ticket"),
        ({"analysis_seconds": 1}, "analysis_seconds"),
        ({"imgae": GOOD_IMAGE}, "imgae"),
    ],
)
def test_bad_params_are_refused_before_anything_changes(seeded, conf, field):
    before = resource_versions()
    dag = load_dag("deployment")
    base = {"image": GOOD_IMAGE, "change_ticket": "CHG-1"}
    try:
        run = run_dag(dag, {**base, **conf})
    except Exception as exc:  # Airflow's own param validation refuses to create the run
        assert field in str(exc)  # noqa: PT017
    else:  # or the first task, validate_params, refuses it
        assert task_states(run)["validate_params"] == "failed"
        assert task_states(run)["preflight"] == "upstream_failed"
        assert f"param {field!r}" in read_report("deployment", run.run_id, "markdown")
    assert resource_versions() == before


def test_a_held_canary_blocks_a_blue_green_switch(seeded):
    from novacron_runbooks.release.cluster import ReleaseCluster

    ReleaseCluster().create_canary("registry.novacron.io/novacron/api:2.0.0", "blue", 1, "held for a look")
    before = resource_versions()
    run = deploy(GOOD_IMAGE)
    states = task_states(run)
    assert states["preflight"] == "failed"
    assert states["deploy_idle"] == "upstream_failed"
    assert resource_versions() == before
    assert "a held canary" in report_of(run)


def test_release_into_an_incident_is_refused_by_the_preflight_before_anything_changes(seeded):
    """The preflight judges the whole service's error ratio over the window the environment sets."""
    set_fault(seeded, {"error_rate": 0.2})
    try:
        eventually(
            lambda: service_error_ratio(PREFLIGHT_WINDOW) > 0.05, 60, "the injected errors seen by Prometheus"
        )
        before = resource_versions()
        run = deploy(GOOD_IMAGE)
    finally:
        set_fault(seeded, {"clear": True})
    states = task_states(run)
    assert states["preflight"] == "failed", states
    assert states["deploy_idle"] == "upstream_failed"
    assert resource_versions() == before
    report = json.loads(read_report("deployment", run.run_id, "json"))
    preflight = next(s for s in report["steps"] if s["task_id"] == "preflight")["evidence"]
    measured = next(m for m in preflight["measurements"] if m["name"] == "preflight_error_rate")
    assert measured["verdict"] == "failure"
    assert measured["value"] > 0.01
    assert f"[{PREFLIGHT_WINDOW}]" in measured["query"]
