"""Proof after the patch: every pod of every patched workload runs the patched image, nothing else moved.

Pods are judged by what they ask for and by what they run (``imageID``): a pod whose container still reports
an affected digest is not patched, whatever its spec says. Unaffected workloads are compared by their pod
template's fingerprint taken before the approval: controllers rewrite status and scale, never the template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from novacron_runbooks.patching.inventory import pod_hits, template_hash

if TYPE_CHECKING:
    from novacron_runbooks.patching.images import AffectedImages
    from novacron_runbooks.patching.inventory import ClusterInventory


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_problems(
    change: dict[str, Any], pods: list[dict[str, Any]], patched: str, affected: AffectedImages
) -> list[str]:
    """List what keeps ``change``'s pods from counting as patched: image, digest, readiness, count."""
    problems = []
    wanted = {(c["name"], bool(c["init"])) for c in change["containers"]}
    pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]  # terminating: on their way out
    for pod in pods:
        name = pod["metadata"]["name"]
        spec = pod.get("spec") or {}
        images = {(c["name"], False): c.get("image") for c in spec.get("containers") or []}
        images.update({(c["name"], True): c.get("image") for c in spec.get("initContainers") or []})
        for key in sorted(wanted):
            if images.get(key) != patched:
                problems.append(f"pod {name}: container {key[0]} runs {images.get(key)}, not {patched}")
        problems += [f"pod {name}: container {h.name} still {h.why}" for h in pod_hits(pod, affected)]
        if not _ready(pod):
            problems.append(f"pod {name} is not ready")
    replicas = int(change["replicas"])
    if replicas >= 0 and len(pods) != replicas:
        problems.append(f"{change['kind']}/{change['name']}: {len(pods)} pods, {replicas} wanted")
    return problems


def untouched_problems(inventory: ClusterInventory, before: dict[str, dict[str, Any]]) -> list[str]:
    """Workloads that were not affected but whose pod template changed (or that vanished) during the run."""
    from kubernetes.client.exceptions import ApiException

    problems = []
    for key, seen in sorted(before.items()):
        kind, _, name = key.partition("/")
        try:
            now = inventory.read(kind, name)
        except ApiException as exc:
            problems.append(f"{key} could not be read after the patch: {exc.status} {exc.reason}")
            continue
        if template_hash(now) != seen["template_hash"]:
            problems.append(f"{key} was not affected but its pod template changed during the run")
    return problems
