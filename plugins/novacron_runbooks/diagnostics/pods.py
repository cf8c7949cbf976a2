"""What the cluster says about a workload's pods: restarts, waiting reasons, warning events, recent logs.

Read-only calls through the cncf-kubernetes clients of ``ReleaseCluster``. A log or event API the cluster
does not answer is reported as unavailable, never as "no errors".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novacron_runbooks.release.cluster import ReleaseCluster

LOG_LINES = 200
TROUBLE = re.compile(r"error|exception|timeout|timed out|refused|panic|fatal", re.IGNORECASE)


@dataclass
class PodHealth:
    """One pod's state as a diagnostics report shows it."""

    name: str
    phase: str
    ready: bool
    restarts: int
    waiting: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "ready": self.ready,
            "restarts": self.restarts,
            "waiting": self.waiting,
        }


def pods_of(cluster: ReleaseCluster, selector: str) -> list[PodHealth]:
    """Pods matching a label selector (``app=novacron-api``), with restarts and waiting reasons."""
    raw = cluster._plain(cluster.core.list_namespaced_pod(cluster.namespace, label_selector=selector))[
        "items"
    ]
    found = []
    for pod in raw:
        status = pod.get("status") or {}
        containers = status.get("containerStatuses") or []
        conditions = status.get("conditions") or []
        found.append(
            PodHealth(
                name=pod["metadata"]["name"],
                phase=str(status.get("phase") or "Unknown"),
                ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
                restarts=sum(int(c.get("restartCount") or 0) for c in containers),
                waiting=[
                    f"{c['name']}: {reason}"
                    for c in containers
                    if (reason := ((c.get("state") or {}).get("waiting") or {}).get("reason"))
                ],
            )
        )
    return found


def warning_events(cluster: ReleaseCluster, limit: int = 20) -> list[str] | None:
    """Newest Warning events of the namespace; ``None`` when the cluster does not serve events."""
    from kubernetes.client.exceptions import ApiException

    try:
        raw = cluster._plain(cluster.core.list_namespaced_event(cluster.namespace))["items"]
    except ApiException:
        return None
    warnings = [e for e in raw if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""), reverse=True)
    return [
        f"{(e.get('involvedObject') or {}).get('name', '?')}: {e.get('reason', '')} {e.get('message', '')}"
        for e in warnings[:limit]
    ]


def trouble_lines(cluster: ReleaseCluster, pod: str, container: str) -> list[str] | None:
    """Recent log lines that mention errors or timeouts; ``None`` when the log cannot be read."""
    from kubernetes.client.exceptions import ApiException

    try:
        text = cluster.core.read_namespaced_pod_log(
            pod, cluster.namespace, container=container, tail_lines=LOG_LINES
        )
    except ApiException:
        return None
    return [line for line in str(text).splitlines() if TROUBLE.search(line)][-10:]
