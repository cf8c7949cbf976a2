"""scale_up and scale_down against the emulated cluster, with a real fault making the second step's gate fail.

One throw-away sandbox for the module: the faults (slow requests, busy pods) must not reach the shared
sandbox's metrics, and each test puts the API back to the seed size (3 replicas, autoscaler minimum 3).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pytest
from backup_helpers import eventually, promql
from dag_runner import run_dag, task_states
from release_state import load_dag
from sandbox_fixtures import make_layout, running_sandbox

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.scaling.cluster import ScalingCluster, Size
from sandbox.faults import set_fault

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.layout import Layout

pytestmark = pytest.mark.sandbox
BLUE = "novacron-api-blue"
SEED = Size(3, 3)


@pytest.fixture(scope="module")
def scaling_sandbox(sandbox: Layout) -> Iterator[Layout]:
    with running_sandbox(make_layout(port_offset=sandbox.port_offset + 50), "scaling sandbox") as layout:
        eventually(
            lambda: promql(
                layout,
                "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[8s]))) < 0.5"
                ' and on() max(rate(container_cpu_usage_seconds_total{container="api"}[8s])) < 0.5',
            ),
            90,
            "Prometheus to see the API's latency and CPU",
        )
        yield layout


@pytest.fixture
def at_size(scaling_sandbox: Layout) -> Iterator[Any]:
    """Resize blue for a test; afterwards: faults off and the seed size back, ready."""

    def resize(size: Size) -> None:
        cluster = ScalingCluster()
        cluster.resize(BLUE, size)
        cluster.release.wait_rolled_out(BLUE, 60)

    yield resize
    set_fault(scaling_sandbox, {"clear": True})
    resize(SEED)


def fault_at(layout: Layout, replicas: int, fault: dict[str, Any]) -> threading.Event:
    """Switch the stand-in's ``fault`` on as soon as blue is asked for ``replicas`` (the second step)."""
    stop = threading.Event()

    def watch() -> None:
        cluster = ScalingCluster()
        while not stop.wait(0.2):
            if cluster.workload(BLUE).replicas == replicas:
                set_fault(layout, fault)
                return

    threading.Thread(target=watch, daemon=True).start()
    return stop


def step_evidence(dag_id: str, run: Any, task_id: str) -> dict[str, Any]:
    report = json.loads(read_report(dag_id, run.run_id, "json"))
    assert report["outcome"] == "rolled-back", report["outcome"]
    return next(s for s in report["steps"] if s["task_id"] == task_id)["evidence"]


def test_scale_up_of_a_busy_api_reverts_the_step_whose_gate_fails(scaling_sandbox, at_size):
    """Incident mode (no target): busy pods call for steps of one; the second step slows every request."""
    set_fault(scaling_sandbox, {"cpu_load": 1.0})
    eventually(
        lambda: promql(
            scaling_sandbox, 'max(rate(container_cpu_usage_seconds_total{container="api"}[8s])) > 0.9'
        ),
        60,
        "Prometheus to see the busy pods",
    )
    stop = fault_at(scaling_sandbox, 5, {"latency_ms": 800})
    try:
        run = run_dag(load_dag("scale_up"), {"dry_run": False, "step_size": 1, "reason": "INC-9 CPU"})
    finally:
        stop.set()
    states = task_states(run)
    assert run.state == "failed", states
    assert states["scale_up_in_steps"] == "success" and states["run_report"] == "failed", states
    cluster = ScalingCluster()
    assert cluster.size(BLUE) == Size(4, 4)  # step 1 (4) stands, step 2 (5) was reverted
    assert cluster.workload(BLUE).ready == 4
    evidence = step_evidence("scale_up", run, "scale_up_in_steps")
    assert evidence["verdict"] == "rollback"
    failed = [m for m in evidence["measurements"] if m["verdict"] == "failure" and "step" in m]
    assert failed and {m["name"] for m in failed} == {"latency_p95"}, evidence["measurements"]
    assert all(m["step"].startswith("step 2/9") for m in failed)
    after_step_1 = [m["value"] for m in evidence["measurements"] if m["name"] == "cpu_after"]
    assert len(after_step_1) == 1 and after_step_1[0] >= 0.7  # still busy: a second step was due
    assert evidence["changes"][-1]["action"] == (
        "revert step 2/9 (5 replicas, autoscaler min 5) to 4 replicas, autoscaler min 4"
    )


def test_scale_down_reverts_the_step_whose_gate_fails(scaling_sandbox, at_size):
    at_size(Size(5, 5))
    stop = fault_at(scaling_sandbox, 3, {"cpu_load": 1.0})
    try:
        run = run_dag(
            load_dag("scale_down"),
            {"dry_run": False, "target_replicas": 3, "step_size": 1, "gate_seconds": 10, "reason": "night"},
        )
    finally:
        stop.set()
    states = task_states(run)
    assert run.state == "failed", states
    assert states["scale_down_in_steps"] == "success", states
    assert ScalingCluster().size(BLUE) == Size(4, 4)  # step 1 (4) stands, step 2 (3) was reverted
    evidence = step_evidence("scale_down", run, "scale_down_in_steps")
    failed = {m["name"] for m in evidence["measurements"] if m["verdict"] == "failure"}
    assert failed == {"cpu"}, evidence["measurements"]
    passed = {m["name"] for m in evidence["measurements"] if m.get("step", "").startswith("step 1/2")}
    assert passed == {"error_rate", "latency_p95", "cpu"}


def test_a_dry_run_and_a_reached_target_change_nothing(scaling_sandbox, at_size):
    before = ScalingCluster().release.apps.read_namespaced_deployment(BLUE, "novacron").metadata.generation
    run = run_dag(load_dag("scale_up"), {"dry_run": True, "target_replicas": 6, "step_size": 2})
    assert run.state == "success", task_states(run)
    report = json.loads(read_report("scale_up", run.run_id, "json"))
    changes = next(s for s in report["steps"] if s["task_id"] == "scale_up_in_steps")["evidence"]["changes"]
    assert [(c["action"], c["applied"]) for c in changes] == [
        ("step 1/2: 3 replicas, autoscaler min 3 → 5 replicas, autoscaler min 5", False),
        ("step 2/2: 5 replicas, autoscaler min 5 → 6 replicas, autoscaler min 6", False),
    ]
    cluster = ScalingCluster()
    assert cluster.size(BLUE) == SEED
    assert cluster.release.apps.read_namespaced_deployment(BLUE, "novacron").metadata.generation == before

    again = run_dag(load_dag("scale_up"), {"dry_run": False, "target_replicas": 3})
    states = task_states(again)
    assert again.state == "success" and states["plan_scale_up"] == "skipped", states  # target reached
