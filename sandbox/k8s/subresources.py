"""The ``scale`` and ``log`` subresources.

``kubectl scale`` and the client's ``*_scale`` calls expect a real ``autoscaling/v1`` Scale, not the parent
object, and incident runbooks read recent pod logs; both are derived from the stored objects here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.k8s.errors import ApiError
from sandbox.k8s.faults import pod_fault
from sandbox.k8s.selectors import to_string


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    """Render a Deployment or ReplicaSet as its Scale."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": to_string(obj["spec"].get("selector")),
        },
    }


def scaled(obj: dict[str, Any], scale: Any) -> dict[str, Any]:
    """Apply a (patched or replaced) Scale back onto its parent object."""
    if not isinstance(scale, dict) or not isinstance(scale.get("spec"), dict):
        raise ApiError(400, "Scale body needs spec.replicas")
    replicas = scale["spec"].get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise ApiError(
            422,
            f'Scale.autoscaling "{obj["metadata"]["name"]}" is invalid: spec.replicas: '
            f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            "Invalid",
        )
    new = {**obj, "metadata": dict(obj["metadata"]), "spec": {**obj["spec"], "replicas": replicas}}
    sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
    if sent_rv:
        new["metadata"]["resourceVersion"] = sent_rv
    return new


def pod_log(
    pod: dict[str, Any], container: str | None, tail: int | None, timestamps: bool, faults: dict[str, str]
) -> str:
    """Write a few plausible lines for the container, naming its image and showing its fault."""
    containers = pod["spec"].get("containers") or []
    chosen = next((c for c in containers if c.get("name") == container), None) if container else containers[0]
    if chosen is None:
        raise ApiError(400, f"container {container} is not valid for pod {pod['metadata']['name']}")
    image = chosen.get("image", "")
    name = pod["metadata"]["name"]
    mode = pod_fault(pod, faults)
    if mode in ("pullerror", "pending"):
        status = (
            "trying and failing to pull image" if mode == "pullerror" else "waiting to start: PodInitializing"
        )
        raise ApiError(400, f'container "{chosen["name"]}" in pod "{name}" is waiting to start: {status}')
    lines = [
        ("INFO", f"starting {chosen['name']} image={image} pod={name}"),
        ("INFO", "loaded configuration from /etc/novacron/config.yaml"),
        ("INFO", "connected to database novacron-db:5432 pool_max=10"),
        ("INFO", "listening on 0.0.0.0:8080"),
        ("INFO", "GET /api/v1/health 200 2ms"),
    ]
    if mode == "crashloop":
        lines += [("ERROR", "fatal: failed to initialise release: exit status 1"), ("INFO", "shutting down")]
    started = datetime.now(UTC) - timedelta(seconds=len(lines))
    out = []
    for n, (level, text) in enumerate(lines):
        stamp = (started + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = f'{stamp} level={level} msg="{text}"'
        out.append(f"{stamp} {line}" if timestamps else line)
    if tail is not None and tail >= 0:
        out = out[-tail:] if tail else []
    return "".join(f"{line}\n" for line in out)
