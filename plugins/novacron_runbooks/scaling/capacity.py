"""Capacity check before a scale-up: how many more API replicas the nodes can hold.

The scheduler places a pod on a node whose allocatable CPU, memory and pod count, minus the requests of the
pods already bound to it, cover the pod's requests. Summing that room over the Ready, schedulable nodes is an
upper bound (one pod never spans two nodes), so the count is taken per node and added up. A ResourceQuota of
the namespace caps it further: its ``hard`` minus ``used`` requests and pod count.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

RESOURCES = ("cpu", "memory")
DONE_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Room:
    """Free allocatable resources of one node."""

    node: str
    free: dict[str, Decimal]
    pods: int

    def fits(self, request: dict[str, Decimal]) -> int:
        """How many pods of ``request`` fit on this node."""
        count = self.pods
        for name, amount in request.items():
            if amount > 0:
                count = min(count, int(self.free.get(name, Decimal(0)) // amount))
        return max(count, 0)


def pod_request(template_spec: dict[str, Any]) -> dict[str, Decimal]:
    """Sum the containers' requests of a pod spec (what the scheduler reserves for it)."""
    from kubernetes.utils import parse_quantity

    total = {name: Decimal(0) for name in RESOURCES}
    for container in template_spec.get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        for name in RESOURCES:
            if name in requests:
                total[name] += parse_quantity(str(requests[name]))
    return total


def _node_ready(node: dict[str, Any]) -> bool:
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_rooms(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[Room]:
    """Free room of each Ready, schedulable node after the requests of the pods bound to it."""
    from kubernetes.utils import parse_quantity

    used: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, int] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in DONE_PHASES:
            continue
        counts[node] = counts.get(node, 0) + 1
        for name, amount in pod_request(pod["spec"]).items():
            used.setdefault(node, {}).setdefault(name, Decimal(0))
            used[node][name] += amount
    rooms = []
    for node in nodes:
        if not _node_ready(node):
            continue
        name = node["metadata"]["name"]
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        free = {
            res: parse_quantity(str(allocatable.get(res, "0"))) - used.get(name, {}).get(res, Decimal(0))
            for res in RESOURCES
        }
        pods_free = int(parse_quantity(str(allocatable.get("pods", "110")))) - counts.get(name, 0)
        rooms.append(Room(name, free, pods_free))
    return rooms


def replicas_that_fit(rooms: list[Room], request: dict[str, Decimal]) -> int:
    return sum(room.fits(request) for room in rooms)


QUOTA_KEYS = {"requests.cpu": "cpu", "cpu": "cpu", "requests.memory": "memory", "memory": "memory"}


def quota_room(quotas: list[dict[str, Any]], request: dict[str, Decimal]) -> int | None:
    """Replicas the namespace's quotas still admit (None: no quota limits pods, CPU or memory requests)."""
    from kubernetes.utils import parse_quantity

    found: int | None = None
    for quota in quotas:
        status = quota.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        for key, value in hard.items():
            left = parse_quantity(str(value)) - parse_quantity(str(used.get(key, "0")))
            if key in ("pods", "count/pods"):
                admits = int(left)
            elif key in QUOTA_KEYS and request.get(QUOTA_KEYS[key], Decimal(0)) > 0:
                admits = int(left // request[QUOTA_KEYS[key]])
            else:
                continue
            found = max(admits, 0) if found is None else min(found, max(admits, 0))
    return found


def describe(rooms: list[Room]) -> str:
    """One line per node for the report: free CPU cores, memory GiB and pod slots."""
    gib = Decimal(1024**3)
    return "; ".join(
        f"{r.node}: {r.free['cpu']:.2f} CPU, {r.free['memory'] / gib:.1f} GiB, {r.pods} pods free"
        for r in rooms
    )
