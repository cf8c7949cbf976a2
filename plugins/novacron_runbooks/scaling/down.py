"""scale_down: plan the steps down to the target, never under the availability floor, and walk them gated.

The floor is the catalog threshold ``availability_floor`` (replicas), not a param: a run cannot lower it. The
autoscaler's minimum comes down with the replicas (left above them, the autoscaler would scale the pods
straight back up). Between steps the gate wants the error ratio, p95 latency and the busiest pod's CPU under
the catalog's ceilings; the CPU ceiling sits below scale_up's trigger so the two runbooks never flap.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.gates import API_JOB
from novacron_runbooks.scaling import gates
from novacron_runbooks.scaling.cluster import ScalingCluster, Size
from novacron_runbooks.scaling.plan import check_above_floor, check_scale_down_target, steps_down
from novacron_runbooks.scaling.steps import Walk, plan_only

if TYPE_CHECKING:
    from collections.abc import Mapping

    from novacron_runbooks.gates.spec import GateSpec

RUNBOOK = catalog_runbook("scale_down")
FLOOR = int(RUNBOOK.threshold("availability_floor").value)
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
LATENCY_CEILING = RUNBOOK.threshold("latency_p95").value
CPU_CEILING = RUNBOOK.threshold("cpu_usage").value
READY_TIMEOUT_SECONDS = 300.0


def check_floor(values: Mapping[str, Any]) -> None:
    """validate_params: a target under the availability floor is refused before anything is read."""
    check_above_floor(int(values["target_replicas"]), FLOOR)


def step_gates(timing: gates.Timing, limit_cores: float) -> list[GateSpec]:
    return gates.render(
        [
            gates.error_gate(ERROR_CEILING, timing),
            gates.latency_gate(LATENCY_CEILING, timing),
            gates.cpu_gate(CPU_CEILING, timing),
        ],
        timing,
        limit_cores,
    )


def plan(params: dict[str, Any]) -> dict[str, Any]:
    """Read the size, refuse a target under the floor or above what runs, plan the steps down."""
    cluster = ScalingCluster()
    deployment = cluster.active_deployment()
    current = cluster.size(deployment)
    target = int(params["target_replicas"])
    check_scale_down_target(target, current.replicas, FLOOR)
    sizes = steps_down(current, target, int(params["step_size"]), FLOOR)
    if not sizes and current.hpa_min is not None and current.hpa_min > target:
        sizes = [Size(current.replicas, target)]
    if not sizes:
        raise AirflowSkipException(f"{deployment} already runs {current.describe()}: nothing to do")
    scrape = PrometheusHook().scrape_interval_seconds(API_JOB)
    timing = gates.Timing.from_scrape(scrape, watch_seconds=int(params["gate_seconds"]))
    current_evidence().note(
        f"plan: {deployment} {current.describe()} → {' → '.join(s.describe() for s in sizes)} "
        f"(availability floor {FLOOR})"
    )
    return {
        "deployment": deployment,
        "start": asdict(current),
        "sizes": [asdict(s) for s in sizes],
        "timing": asdict(timing),
        "limit_cores": cluster.cpu_limit_cores(deployment),
    }


def scale(plan: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Walk down the planned sizes with the gate between steps; a failed gate reverts the last step."""
    cluster = ScalingCluster()
    timing = gates.Timing(**plan["timing"])
    specs = step_gates(timing, float(plan["limit_cores"]))
    sizes = [Size(**s) for s in plan["sizes"]]
    if any(size.replicas < FLOOR for size in sizes):  # the plan came through XCom: check it again
        raise ValueError(f"planned sizes {sizes} cross the availability floor {FLOOR}")
    if dry_run:
        plan_only(cluster, plan["deployment"], sizes, specs)
        return {"deployment": plan["deployment"], "dry_run": True}
    return Walk(
        cluster,
        plan["deployment"],
        Size(**plan["start"]),
        sizes,
        gates=lambda _size: specs,
        channel=RUNBOOK.owner.slack_channel,
        ready_timeout=READY_TIMEOUT_SECONDS,
    ).run()
