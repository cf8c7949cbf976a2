"""The canary runbook against the sandbox's emulated cluster, the API stand-in and Prometheus.

The stand-in routes each request to a ready pod the Service selects, so the canary's share follows its ready
replicas; releases misbehave by tag: ``bad`` fails ~30% of requests. Its built-in load (~20 requests/s) gives
a canary at 25-50% enough requests for ``min_requests`` 10 in a 12-second step.
"""

from __future__ import annotations

import json

import pytest
from dag_runner import respond_when_asked, run_dag, task_states
from release_state import (
    GOOD_IMAGE,
    SEED_IMAGE,
    history,
    load_dag,
    read_state,
    reset_release_state,
    resource_versions,
)

from novacron_runbooks.dagkit.report.store import read_report

pytestmark = pytest.mark.sandbox

BAD_IMAGE = "registry.novacron.io/novacron/api:2.0.0-bad"
ANALYSIS = {
    "max_error_rate_delta": 0.005,
    "max_latency_p95_ratio": 1.25,
    "min_requests": 10,
    "on_no_data": "fail",
    "failure_limit": 0,
}
FAST = {"steps": [50, 100], "interval_seconds": 12, "analysis": ANALYSIS}


@pytest.fixture
def seeded(sandbox):
    reset_release_state()
    yield sandbox
    reset_release_state(healthy=False)  # the next test that needs the service at rest waits for it itself


def canary(image: str, **conf):
    return run_dag(load_dag("canary"), {"image": image, **FAST, **conf})


def report_of(run) -> str:
    return read_report("canary", run.run_id, "markdown")


def loop_result(run) -> dict:
    return run.get_task_instance("canary_steps").xcom_pull(task_ids="canary_steps")


def test_good_release_is_promoted(seeded):
    run = canary(GOOD_IMAGE)
    states = task_states(run)
    assert run.state == "success", states
    assert states["promote"] == "success"
    assert states["abort_canary"] == "skipped"
    state = read_state()
    assert (state.active, state.active_image, state.ready["blue"]) == ("blue", GOOD_IMAGE, 3)
    assert not state.canary
    assert [(r.image, r.result) for r in history()] == [(SEED_IMAGE, "adopted"), (GOOD_IMAGE, "promoted")]
    assert loop_result(run)["phase"] == "promote"
    report = report_of(run)
    assert "step 1 traffic share (%) = 50.0" in report  # 3 canary pods next to 3 stable
    assert "measured step 1 (50%) canary_errors" in report
    assert "measured step 1 (50%) canary_latency" in report


def test_bad_release_aborts_at_its_first_step_and_leaves_stable_untouched(seeded):
    before = resource_versions()
    run = canary(BAD_IMAGE, steps=[25, 50, 100])
    states = task_states(run)
    assert states["abort_canary"] == "success", states
    assert states["promote"] == "skipped"
    result = loop_result(run)
    assert (result["action"], result["step"], result["weight"], result["phase"]) == (
        "rollback",
        1,
        25,
        "failed",
    )
    state = read_state()
    assert not state.canary
    assert (state.active, state.active_image, state.ready["blue"]) == ("blue", SEED_IMAGE, 3)
    after = resource_versions()
    assert after["novacron-api-blue"] == before["novacron-api-blue"]  # stable's spec never changed
    assert after["service"] == before["service"]
    assert after["novacron-api-canary"] == "absent"
    assert [(r.image, r.result) for r in history()][-1] == (BAD_IMAGE, "aborted")
    report = report_of(run)
    assert "ROLLED-BACK" in report
    assert run.state == "failed"  # a rolled-back run fails for CI callers
    started = run.get_task_instance("create_canary").start_date
    removed = run.get_task_instance("abort_canary").end_date
    seconds = (removed - started).total_seconds()
    print(f"\ncanary start → abort: {seconds:.1f} s; interval 12 s × threshold 1 = 12 s in Flagger's terms")
    assert seconds < 300


@pytest.mark.parametrize(
    ("choice", "promoted"), [("Roll back", False), ("Promote", True)], ids=["roll-back", "promote"]
)
def test_inconclusive_step_asks_a_person(seeded, choice, promoted):
    # far more requests than one 12-second step can serve, and no data counts as inconclusive, not failed
    analysis = {**ANALYSIS, "min_requests": 1_000_000, "on_no_data": "inconclusive"}
    answered = respond_when_asked("canary", "decide_canary", choice)
    run = canary(GOOD_IMAGE, analysis=analysis)
    states = task_states(run)
    assert answered.get("run_id") == run.run_id, answered
    assert loop_result(run)["phase"] == "inconclusive"
    assert states["decide_canary"] == "success"
    state = read_state()
    assert not state.canary
    if promoted:
        assert states["promote"] == "success"
        assert state.active_image == GOOD_IMAGE
        assert history()[-1].result == "promoted"
    else:
        assert states["abort_canary"] == "success"
        assert state.active_image == SEED_IMAGE
        assert history()[-1].result == "aborted"
    assert f"| decide_canary | {choice} | sre-oncall |" in report_of(run)


@pytest.mark.parametrize(
    ("conf", "field", "why"),
    [
        ({"steps": [50, 25, 100]}, "steps", "strictly increasing"),
        ({"steps": [25, 50]}, "steps", "must end at 100"),
        (
            {"interval_seconds": 300, "analysis": {**ANALYSIS, "failure_limit": 3}},
            "interval_seconds",
            "budget",
        ),
        ({"interval_seconds": 10, "analysis": {**ANALYSIS, "failure_limit": 1}}, "interval_seconds", "scrap"),
        ({"analysis": {**ANALYSIS, "max_error_rate": 0.1}}, "analysis", "max_error_rate"),
    ],
    ids=[
        "steps-not-increasing",
        "steps-not-ending-at-100",
        "abort-over-budget",
        "interval-vs-scrape",
        "unknown-key",
    ],
)
def test_bad_params_are_refused_naming_the_field(seeded, conf, field, why):
    before = resource_versions()
    try:
        run = canary(GOOD_IMAGE, **conf)
    except Exception as exc:  # Airflow's own param validation refuses to create the run
        assert field in str(exc)  # noqa: PT017
    else:  # or validate_params, the first task, refuses it
        states = task_states(run)
        assert states["validate_params"] == "failed"
        assert states["preflight"] == "upstream_failed"
        report = report_of(run)
        assert f"param {field!r}" in report
        assert why in report
    assert resource_versions() == before


def test_unreachable_prometheus_refuses_to_start(seeded, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVACRON_PROMETHEUS", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 9})
    )
    before = resource_versions()
    run = canary(GOOD_IMAGE)
    assert task_states(run)["validate_params"] == "failed"
    assert "param 'interval_seconds'" in report_of(run)
    assert resource_versions() == before


def test_dry_run_changes_nothing_and_shows_the_plan(seeded):
    before = resource_versions()
    run = canary(GOOD_IMAGE, dry_run=True, steps=[5, 25, 50, 100])
    states = task_states(run)
    assert run.state == "success", states
    assert resource_versions() == before
    report = report_of(run)
    assert "DRY-RUN" in report
    assert "step 1: 5% asked → 1 canary next to 3 stable = 25.0%" in report
    assert "worst-case abort" in report
    assert "would change (dry run): novacron-api-canary: step 3: scale to 3 next to 3 stable" in report
    assert "measured canary_errors_stable" in report
    assert "measured canary_latency_stable" in report
