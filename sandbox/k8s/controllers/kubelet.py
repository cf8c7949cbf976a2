"""Scheduler and kubelet in one: Pods go Pending → Running/Ready after a delay, or fail as their fault says.

Statuses are rewritten only on a state change (never on every tick), so watches see the transitions a real
kubelet would report and resourceVersions stay meaningful.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from sandbox.k8s.controllers.events import record
from sandbox.k8s.faults import pod_fault
from sandbox.k8s.meta import clone, now_iso
from sandbox.k8s.resources import by_kind

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

PODS = by_kind("Pod")
NODES = by_kind("Node")
CRASH_INTERVAL = 2.0


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _conditions(
    ready: bool, scheduled: bool, stamp: str, unschedulable: str | None = None
) -> list[dict[str, Any]]:
    def cond(ctype: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
        out = {
            "type": ctype,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
        }
        if reason:
            out.update(reason=reason, message=message or "")
        return out

    if not scheduled:
        return [cond("PodScheduled", False, "Unschedulable", unschedulable)]
    not_ready = None if ready else "ContainersNotReady"
    return [
        cond("PodReadyToStartContainers", True),
        cond("Initialized", True),
        cond("Ready", ready, not_ready, None if ready else "containers with unready status"),
        cond("ContainersReady", ready, not_ready, None if ready else "containers with unready status"),
        cond("PodScheduled", True),
    ]


class Kubelet:
    """Per-pod timers live here, not in the store: after a restart, pending pods simply wait once more."""

    def __init__(self, store: Store, ready_delay: float) -> None:
        self.store = store
        self.ready_delay = ready_delay
        self.timers: dict[str, float] = {}
        self.node_turn = 0

    def sync(self) -> None:
        now = time.monotonic()
        live = set()
        for pod in self.store.list(PODS):
            uid = pod["metadata"]["uid"]
            live.add(uid)
            self.timers.setdefault(uid, now)
            self._sync_pod(pod, now - self.timers[uid])
        for uid in set(self.timers) - live:
            del self.timers[uid]

    def _state(self, pod: dict[str, Any]) -> str:
        status = pod.get("status") or {}
        if not pod["spec"].get("nodeName"):
            return "unscheduled"
        waiting = [
            (c.get("state") or {}).get("waiting", {}).get("reason")
            for c in status.get("containerStatuses") or []
        ]
        if status.get("phase") == "Running":
            return "crashloop" if "CrashLoopBackOff" in waiting else "running" if _ready(pod) else "starting"
        return "pullbackoff" if "ImagePullBackOff" in waiting else "creating"

    def _sync_pod(self, pod: dict[str, Any], age: float) -> None:
        mode = pod_fault(pod, self.store.faults)
        state = self._state(pod)
        uid = pod["metadata"]["uid"]
        if state == "unscheduled":
            if mode == "pending":
                if (pod.get("status") or {}).get("phase") != "Pending" or not (pod.get("status") or {}).get(
                    "conditions"
                ):
                    self._write(pod, self._unschedulable(pod), event=("FailedScheduling", "Warning"))
            else:
                self._schedule(pod)
                self.timers[uid] = time.monotonic()
        elif state in ("creating", "pullbackoff"):
            if mode == "pullerror":
                if state != "pullbackoff":
                    self._write(pod, self._waiting(pod, "ImagePullBackOff", 0), event=("Failed", "Warning"))
            elif age >= self.ready_delay:
                self._start(pod, mode)
        elif state == "running" and mode == "crashloop":
            self._crash(pod)
        elif state == "crashloop":
            if mode != "crashloop":
                self._write(pod, self._running(pod, False))
                self.timers[uid] = time.monotonic()
            elif age >= CRASH_INTERVAL:
                self._crash(pod)
        elif state == "starting" and mode != "crashloop" and age >= self.ready_delay:
            self._write(pod, self._running(pod, True))

    # transitions ---------------------------------------------------------------------------------------
    def _schedule(self, pod: dict[str, Any]) -> None:
        nodes = [n["metadata"]["name"] for n in self.store.list(NODES)] or ["node-1"]
        self.node_turn += 1
        new = clone(pod)
        new["spec"]["nodeName"] = nodes[self.node_turn % len(nodes)]
        new["status"] = self._waiting(new, "ContainerCreating", 0)
        stored = self.store.update(PODS, new, check_rv=False)
        record(
            self.store,
            stored,
            "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to "
            f"{new['spec']['nodeName']}",
            component="default-scheduler",
        )

    def _start(self, pod: dict[str, Any], mode: str | None) -> None:
        for c in pod["spec"]["containers"]:
            record(self.store, pod, "Pulled", f'Container image "{c["image"]}" already present on machine')
            record(self.store, pod, "Started", f"Started container {c['name']}")
        if mode == "crashloop":
            self._crash(pod)
        else:
            self._write(pod, self._running(pod, True))
            self.timers[pod["metadata"]["uid"]] = time.monotonic()

    def _crash(self, pod: dict[str, Any]) -> None:
        restarts = max(
            (c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or []),
            default=0,
        )
        status = self._running(pod, False, crashed=restarts + 1)
        self._write(pod, status, event=("BackOff", "Warning"))
        self.timers[pod["metadata"]["uid"]] = time.monotonic()

    def _write(
        self, pod: dict[str, Any], status: dict[str, Any], event: tuple[str, str] | None = None
    ) -> None:
        new = clone(pod)
        new["status"] = status
        stored = self.store.update(PODS, new, check_rv=False)
        if event:
            reason, etype = event
            record(self.store, stored, reason, _event_message(reason, pod), etype)

    # status documents ----------------------------------------------------------------------------------
    def _base(self, pod: dict[str, Any], phase: str, ready: bool) -> dict[str, Any]:
        stamp = now_iso()
        node = pod["spec"].get("nodeName", "node-1")
        host_octet = int(_digest(node)[:2], 16) % 250 + 2
        ip = f"10.244.{host_octet % 32}.{int(_digest(pod['metadata']['uid'])[:4], 16) % 250 + 2}"
        return {
            "phase": phase,
            "conditions": _conditions(ready, True, stamp),
            "hostIP": f"192.168.10.{host_octet}",
            "hostIPs": [{"ip": f"192.168.10.{host_octet}"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": (pod.get("status") or {}).get("startTime") or stamp,
            "qosClass": "Burstable"
            if any(c.get("resources") for c in pod["spec"]["containers"])
            else "BestEffort",
        }

    def _waiting(self, pod: dict[str, Any], reason: str, restarts: int) -> dict[str, Any]:
        status = self._base(pod, "Pending", False)
        status.pop("podIP"), status.pop("podIPs")
        message = {"ImagePullBackOff": "Back-off pulling image"}.get(reason)
        status["containerStatuses"] = [
            _container(
                c,
                {
                    "waiting": {
                        "reason": reason,
                        **({"message": f'{message} "{c["image"]}"'} if message else {}),
                    }
                },
                False,
                restarts,
                "",
            )
            for c in pod["spec"]["containers"]
        ]
        return status

    def _running(self, pod: dict[str, Any], ready: bool, crashed: int = 0) -> dict[str, Any]:
        status = self._base(pod, "Running", ready)
        stamp = now_iso()
        previous = {c["name"]: c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        statuses = []
        for c in pod["spec"]["containers"]:
            restarts = crashed or previous.get(c["name"], {}).get("restartCount", 0)
            image_id = f"{c['image'].split(':')[0]}@sha256:{_digest(c['image'])}"
            if crashed:
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 10s restarting failed container={c['name']}",
                    }
                }
                last = {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": stamp,
                        "finishedAt": stamp,
                        "containerID": f"containerd://{_digest(pod['metadata']['uid'] + c['name'])}",
                    }
                }
                statuses.append(_container(c, state, False, restarts, image_id, last))
            else:
                state = {"running": {"startedAt": stamp}}
                statuses.append(_container(c, state, ready, restarts, image_id))
        status["containerStatuses"] = statuses
        return status

    def _unschedulable(self, pod: dict[str, Any]) -> dict[str, Any]:
        nodes = len(self.store.list(NODES)) or 1
        message = (
            f"0/{nodes} nodes are available: {nodes} Insufficient cpu. preemption: 0/{nodes} nodes are "
            "available: no preemption victims found for incoming pod."
        )
        return {
            "phase": "Pending",
            "conditions": _conditions(False, False, now_iso(), message),
            "qosClass": "BestEffort",
        }


def _container(
    c: dict[str, Any],
    state: dict[str, Any],
    ready: bool,
    restarts: int,
    image_id: str,
    last: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out = {
        "name": c["name"],
        "image": c["image"],
        "imageID": image_id,
        "ready": ready,
        "restartCount": restarts,
        "started": "running" in state,
        "state": state,
        "lastState": last or {},
    }
    if image_id:
        out["containerID"] = f"containerd://{_digest(c['name'] + image_id + str(restarts))}"
    return out


def _ready(pod: dict[str, Any]) -> bool:
    """Tell whether the pod's Ready condition is True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _event_message(reason: str, pod: dict[str, Any]) -> str:
    image = pod["spec"]["containers"][0]["image"]
    name = pod["spec"]["containers"][0]["name"]
    return {
        "FailedScheduling": "0/3 nodes are available: 3 Insufficient cpu.",
        "Failed": f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and '
        f"unpack "
        f'image "{image}": not found',
        "BackOff": f"Back-off restarting failed container {name} in pod {pod['metadata']['name']}",
    }.get(reason, reason)


is_ready = _ready
