"""Failure injection for pods, keyed on the image reference or set per Deployment.

Keying on the image tag makes a failed rollout deterministic and visible from any process (a test just deploys
``api:1.5.0-pullerror``); the per-Deployment switch covers drills that break an already running release.
"""

from __future__ import annotations

from typing import Any

MODES = ("pullerror", "crashloop", "pending")


def image_tag(image: str) -> str:
    """Return the tag of an image reference (``registry:5000/a/b:1.2`` → ``1.2``; a digest gives ``""``)."""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].partition(":")[2]


def image_fault(image: str) -> str | None:
    """Return the failure an image's tag asks for, if any."""
    tag = image_tag(image).lower()
    return next((mode for mode in MODES if mode in tag), None)


def owning_deployment(pod: dict[str, Any]) -> str | None:
    """Name the Deployment behind a pod: its ReplicaSet's name minus the template hash."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            rs_name = ref["name"]
            suffix = (pod["metadata"].get("labels") or {}).get("pod-template-hash")
            if suffix and rs_name.endswith(f"-{suffix}"):
                return rs_name[: -len(suffix) - 1]
            return rs_name.rsplit("-", 1)[0]
    return None


def pod_fault(pod: dict[str, Any], faults: dict[str, str]) -> str | None:
    """Return a pod's effective fault: its Deployment's switch first, then its images' tags."""
    deployment = owning_deployment(pod)
    if deployment:
        mode = faults.get(f"{pod['metadata'].get('namespace')}/{deployment}")
        if mode in MODES:
            return mode
    for container in pod["spec"].get("containers") or []:
        mode = image_fault(str(container.get("image", "")))
        if mode:
            return mode
    return None
