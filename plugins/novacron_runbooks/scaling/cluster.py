"""The API's size in the cluster: replicas of the active colour and the autoscaler's minimum, moved together.

The HorizontalPodAutoscaler keeps its target's replicas inside ``[minReplicas, maxReplicas]``: replicas raised
above the minimum would be scaled back down by the autoscaler once CPU falls, and replicas lowered under the
minimum are put back at once. So a scaling step moves both, in the order that never lets the autoscaler undo
the step half-way: the minimum last when going up, first when going down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from novacron_runbooks.release.cluster import (
    APP,
    CONTAINER,
    ReleaseCluster,
    ReleaseError,
    Workload,
    colour_deployment,
)

AUTOSCALER = APP
"""The API's HorizontalPodAutoscaler (the release runbooks keep its scaleTargetRef on the active colour)."""


@dataclass(frozen=True)
class Size:
    """What a step sets: the Deployment's replicas and the autoscaler's minimum (None: no autoscaler)."""

    replicas: int
    hpa_min: int | None

    def describe(self) -> str:
        floor = "" if self.hpa_min is None else f", autoscaler min {self.hpa_min}"
        return f"{self.replicas} replicas{floor}"


@dataclass(frozen=True)
class Autoscaler:
    """The live autoscaler's bounds and what it scales."""

    target: str
    min_replicas: int
    max_replicas: int


class ScalingCluster:
    """Read and change the size of the API's active colour."""

    def __init__(self, release: ReleaseCluster | None = None) -> None:
        self.release = release or ReleaseCluster()

    def active_deployment(self) -> str:
        return colour_deployment(self.release.active_colour())

    def workload(self, deployment: str) -> Workload:
        return self.release.require(deployment)

    def autoscaler_object(self) -> dict[str, Any] | None:
        """Return the API's autoscaler as a plain dict, or None when there is none."""
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.release.autoscaling.read_namespaced_horizontal_pod_autoscaler(
                AUTOSCALER, self.release.namespace
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ReleaseError(f"cannot read HorizontalPodAutoscaler {AUTOSCALER}: {exc.status}") from exc
        plain: dict[str, Any] = self.release.api_client.sanitize_for_serialization(obj)
        return plain

    def autoscaler(self) -> Autoscaler | None:
        obj = self.autoscaler_object()
        if obj is None:
            return None
        spec = obj["spec"]
        return Autoscaler(
            target=str(spec["scaleTargetRef"]["name"]),
            min_replicas=int(spec.get("minReplicas") or 1),
            max_replicas=int(spec["maxReplicas"]),
        )

    def require_autoscaler_on(self, deployment: str) -> Autoscaler | None:
        """Return the autoscaler, refusing one that scales another Deployment (its minimum would miss)."""
        found = self.autoscaler()
        if found is not None and found.target != deployment:
            raise ReleaseError(
                f"HorizontalPodAutoscaler {AUTOSCALER} scales {found.target}, but the Service selects "
                f"{deployment}: finish or roll back the release in progress first"
            )
        return found

    def size(self, deployment: str) -> Size:
        found = self.require_autoscaler_on(deployment)
        return Size(self.workload(deployment).replicas, None if found is None else found.min_replicas)

    def resize(self, deployment: str, wanted: Size) -> None:
        """Set replicas and the autoscaler's minimum, in the order the autoscaler cannot undo half-way."""
        current = self.size(deployment)
        growing = wanted.replicas >= current.replicas
        if not growing:
            self._set_min(current, wanted)
        if wanted.replicas != current.replicas:
            self.release.scale(deployment, wanted.replicas)
        if growing:
            self._set_min(current, wanted)

    def _set_min(self, current: Size, wanted: Size) -> None:
        if wanted.hpa_min is None or wanted.hpa_min == current.hpa_min:
            return
        self.release.autoscaling.patch_namespaced_horizontal_pod_autoscaler(
            AUTOSCALER, self.release.namespace, {"spec": {"minReplicas": wanted.hpa_min}}
        )

    def pod_resources(self, deployment: str) -> dict[str, str]:
        """Return the API container's ``limits`` over ``requests`` (CPU and memory of one replica)."""
        obj = self.release.api_client.sanitize_for_serialization(
            self.release.apps.read_namespaced_deployment(deployment, self.release.namespace)
        )
        found: dict[str, str] = {}
        for container in obj["spec"]["template"]["spec"]["containers"]:
            resources = container.get("resources") or {}
            for kind in ("requests", "limits"):
                for name, value in (resources.get(kind) or {}).items():
                    found[f"{kind}.{container['name']}.{name}"] = str(value)
        return found

    def cpu_limit_cores(self, deployment: str) -> float:
        """Return the API container's CPU limit (else its request, else one core): what "CPU 70%" divides."""
        from kubernetes.utils import parse_quantity

        resources = self.pod_resources(deployment)
        for key in (f"limits.{CONTAINER}.cpu", f"requests.{CONTAINER}.cpu"):
            if key in resources:
                return float(parse_quantity(resources[key]))
        return 1.0
