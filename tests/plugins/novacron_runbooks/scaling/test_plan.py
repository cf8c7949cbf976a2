"""Scaling steps, the availability floor, the target refusals and the capacity count, without a cluster."""

from __future__ import annotations

from decimal import Decimal

import pytest

from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.scaling.capacity import node_rooms, pod_request, quota_room, replicas_that_fit
from novacron_runbooks.scaling.cluster import Autoscaler, Size
from novacron_runbooks.scaling.down import check_floor
from novacron_runbooks.scaling.gates import Timing
from novacron_runbooks.scaling.plan import (
    check_scale_down_target,
    check_scale_up_target,
    scale_up_ceiling,
    steps_down,
    steps_up,
)


def test_steps_up_raise_replicas_and_the_autoscaler_minimum_together():
    assert steps_up(Size(3, 3), 8, 2) == [Size(5, 5), Size(7, 7), Size(8, 8)]
    assert steps_up(Size(3, 6), 5, 1) == [Size(4, 6), Size(5, 6)]  # a higher minimum is never lowered
    assert steps_up(Size(3, None), 4, 2) == [Size(4, None)]
    assert steps_up(Size(5, 5), 5, 2) == []


def test_steps_down_never_cross_the_floor_whatever_the_target():
    assert steps_down(Size(7, 7), 3, 2, floor=3) == [Size(5, 5), Size(3, 3)]
    assert steps_down(Size(6, 2), 3, 1, floor=4) == [Size(5, 2), Size(4, 2)]
    assert steps_down(Size(3, 3), 1, 1, floor=3) == []


def test_targets_are_refused_naming_the_param():
    hpa = Autoscaler("novacron-api-blue", 3, 12)
    with pytest.raises(ParamError, match="target_replicas.*below the availability floor of 3") as caught:
        check_scale_down_target(2, 5, floor=3)
    assert caught.value.field == "target_replicas"
    with pytest.raises(ParamError, match="above the 4 replicas running"):
        check_scale_down_target(6, 4, floor=3)
    with pytest.raises(ParamError, match="autoscaler's maximum of 12"):
        check_scale_up_target(13, 3, hpa, room=40)
    with pytest.raises(ParamError, match="room for 2"):
        check_scale_up_target(8, 3, hpa, room=2)
    with pytest.raises(ParamError, match="scale_down's job"):
        check_scale_up_target(2, 3, hpa, room=40)
    check_scale_up_target(0, 3, hpa, room=0)  # incident mode: the ceiling decides
    with pytest.raises(ParamError, match="threshold availability_floor") as caught:
        check_floor({"target_replicas": 2})  # scale_down's validate_params, before anything is read
    assert caught.value.field == "target_replicas"
    check_floor({"target_replicas": 3})
    assert scale_up_ceiling(3, hpa, room=40) == 12
    assert scale_up_ceiling(3, hpa, room=2) == 5


def _node(name, cpu, memory, ready=True):
    return {
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _pod(node, cpu, memory="0", phase="Running"):
    requests = {"cpu": cpu, "memory": memory}
    return {
        "spec": {"nodeName": node, "containers": [{"name": "api", "resources": {"requests": requests}}]},
        "status": {"phase": phase},
    }


def test_capacity_counts_whole_pods_per_ready_node_after_bound_requests():
    nodes = [_node("a", "2", "4Gi"), _node("b", "1500m", "1Gi"), _node("c", "8", "32Gi", ready=False)]
    pods = [_pod("a", "1"), _pod("b", "500m", "512Mi"), _pod("a", "4", phase="Succeeded")]
    rooms = node_rooms(nodes, pods)
    assert [r.node for r in rooms] == ["a", "b"]
    request = pod_request({"containers": [{"resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]})
    assert request == {"cpu": Decimal("0.5"), "memory": Decimal(512 * 1024**2)}
    # a: 1 CPU and 4 GiB free → 2 pods; b: 1 CPU but 512 MiB free → 1 pod (memory binds)
    assert replicas_that_fit(rooms, request) == 3


def test_a_namespace_quota_caps_the_replicas_that_fit():
    request = {"cpu": Decimal("0.5"), "memory": Decimal(0)}
    quota = {
        "status": {
            "hard": {"requests.cpu": "4", "pods": "20"},
            "used": {"requests.cpu": "2500m", "pods": "6"},
        }
    }
    assert quota_room([quota], request) == 3  # 1.5 CPU left / 0.5 per pod; 14 pod slots
    assert quota_room([], request) is None
    assert quota_room([{"status": {"hard": {"services": "5"}, "used": {}}}], request) is None


def test_a_step_is_watched_for_gate_seconds_from_its_pods_being_ready():
    assert Timing.from_scrape(2.0) == Timing(8, 4.0, 2)
    assert Timing.from_scrape(2.0, watch_seconds=120) == Timing(8, 4.0, 29)  # 8 + 28 x 4 = 120 s
    assert Timing.from_scrape(15.0, watch_seconds=120) == Timing(60, 30.0, 3)
