"""scale_up: plan (capacity, target, steps) and the gated walk up, with the catalog's ceilings.

``target_replicas`` 0 is the incident mode (an incident runbook starts scale_up with no target): add
``step_size`` replicas at a time while the busiest pod's CPU is over the ceiling, up to the autoscaler's
maximum and the nodes' room. Each step's gate wants CPU and p95 latency under their ceilings or at least no
worse than before the step; a step that made either worse is reverted. A service still over a ceiling at the
end keeps its new pods (removing them would not help) and the run fails, so people add capacity.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.gates import API_JOB
from novacron_runbooks.scaling import capacity, gates
from novacron_runbooks.scaling.analysis import current_value
from novacron_runbooks.scaling.cluster import ScalingCluster, Size
from novacron_runbooks.scaling.plan import check_scale_up_target, scale_up_ceiling, steps_up
from novacron_runbooks.scaling.steps import Walk, plan_only

if TYPE_CHECKING:
    from novacron_runbooks.gates.spec import GateSpec

RUNBOOK = catalog_runbook("scale_up")
CPU_CEILING = RUNBOOK.threshold("cpu_usage").value
LATENCY_CEILING = RUNBOOK.threshold("latency_p95").value
READY_TIMEOUT_SECONDS = 300.0


def room_for(cluster: ScalingCluster, deployment: str) -> int:
    """Return how many more replicas of ``deployment`` the nodes and quotas admit (recorded as evidence)."""
    from kubernetes.client.exceptions import ApiException

    core = cluster.release.core
    plain = cluster.release.api_client.sanitize_for_serialization
    nodes = plain(core.list_node())["items"]
    pods = plain(core.list_pod_for_all_namespaces())["items"]
    template = plain(cluster.release.apps.read_namespaced_deployment(deployment, cluster.release.namespace))
    request = capacity.pod_request(template["spec"]["template"]["spec"])
    rooms = capacity.node_rooms(nodes, pods)
    fit = capacity.replicas_that_fit(rooms, request)
    detail = capacity.describe(rooms)
    try:
        quotas = plain(core.list_namespaced_resource_quota(cluster.release.namespace))["items"]
    except ApiException as exc:
        if exc.status != 404:  # a cluster that serves no quotas has none to respect
            raise
        quotas = []
    admitted = capacity.quota_room(quotas, request)
    if admitted is not None:
        fit = min(fit, admitted)
        detail += f"; the namespace's quota admits {admitted} more"
    current_evidence().measure("capacity_replicas", fit, "success", detail=detail)
    return fit


def step_gates(timing: gates.Timing, limit_cores: float) -> list[GateSpec]:
    return gates.render(
        [gates.cpu_gate(CPU_CEILING, timing), gates.latency_gate(LATENCY_CEILING, timing)],
        timing,
        limit_cores,
    )


def plan(params: dict[str, Any]) -> dict[str, Any]:
    """Check capacity and the target, then plan the steps; nothing to do skips the run's remaining steps."""
    evidence = current_evidence()
    cluster = ScalingCluster()
    deployment = cluster.active_deployment()
    current = cluster.size(deployment)
    autoscaler = cluster.autoscaler()
    room = room_for(cluster, deployment)
    wanted = int(params["target_replicas"])
    check_scale_up_target(wanted, current.replicas, autoscaler, room)
    timing = gates.Timing.from_scrape(PrometheusHook().scrape_interval_seconds(API_JOB))
    limit = cluster.cpu_limit_cores(deployment)
    if wanted == 0:
        cpu = current_value(step_gates(timing, limit)[0], "before")
        if cpu < CPU_CEILING:
            raise AirflowSkipException(
                f"busiest pod at {cpu:.0%} CPU, under {CPU_CEILING:.0%}: nothing to do"
            )
    target = wanted or scale_up_ceiling(current.replicas, autoscaler, room)
    if wanted == 0 and target <= current.replicas:
        raise AirflowFailException(
            f"CPU over {CPU_CEILING:.0%} but no room to add replicas ({current.describe()}, "
            f"{room} more fit on the nodes): add nodes or raise the autoscaler's maximum"
        )
    sizes = steps_up(current, target, int(params["step_size"]))
    if not sizes and (current.hpa_min is None or current.hpa_min >= target):
        raise AirflowSkipException(f"{deployment} already runs {current.describe()}: nothing to do")
    if not sizes:
        sizes = [Size(target, target)]
    evidence.note(f"plan: {deployment} {current.describe()} → {' → '.join(s.describe() for s in sizes)}")
    return {
        "deployment": deployment,
        "start": asdict(current),
        "sizes": [asdict(s) for s in sizes],
        "auto": wanted == 0,
        "timing": asdict(timing),
        "limit_cores": limit,
    }


def scale(plan: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Walk up the planned sizes, gating each step; then require CPU and latency under their ceilings."""
    cluster = ScalingCluster()
    timing = gates.Timing(**plan["timing"])
    specs = step_gates(timing, float(plan["limit_cores"]))
    sizes = [Size(**s) for s in plan["sizes"]]
    if dry_run:
        plan_only(cluster, plan["deployment"], sizes, specs)
        return {"deployment": plan["deployment"], "dry_run": True}
    cpu_spec = specs[0]
    walk = Walk(
        cluster,
        plan["deployment"],
        Size(**plan["start"]),
        sizes,
        gates=lambda _size: [gates.no_worse_than(spec, current_value(spec, "before")) for spec in specs],
        channel=RUNBOOK.owner.slack_channel,
        ready_timeout=READY_TIMEOUT_SECONDS,
        done=(lambda _size: current_value(cpu_spec, "after") < CPU_CEILING) if plan["auto"] else None,
    )
    result = walk.run()
    if result["reverted"] is None:
        require_under_ceilings(specs, result)
    return result


def require_under_ceilings(specs: list[GateSpec], result: dict[str, Any]) -> None:
    """Fail the run (keeping the new pods) when CPU or latency is still over its ceiling at the end."""
    over = []
    for spec in specs:
        value = current_value(spec, "at_the_end")
        assert spec.success is not None
        if value >= spec.success.threshold:
            over.append(f"{spec.name} {value:.3g} (ceiling {spec.success.threshold:g})")
    if over:
        raise AirflowFailException(
            f"scaled to {result['replicas']} replicas but still over: {', '.join(over)}; "
            "the new pods stay, more capacity is needed"
        )
