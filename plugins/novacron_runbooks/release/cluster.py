"""The NovaCron API's release objects in Kubernetes: two colour Deployments, one Service, an optional canary.

Everything goes through the cncf-kubernetes provider's ``KubernetesHook`` clients (the provider has no patch
helper). Objects are read as plain dicts so that decisions are easy to test and to record as evidence.

Conventions (``include/sandbox/k8s-seed.yaml``): Deployments ``novacron-api-blue`` and ``novacron-api-green``
labelled ``app=novacron-api, color=<colour>``; the Service ``novacron-api`` selects the active colour; the
canary ``novacron-api-canary`` carries the active colour plus ``track=canary``, so the Service splits traffic
between stable and canary by ready replicas.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from novacron_runbooks.hooks.kubernetes import cluster_hook, namespace

if TYPE_CHECKING:
    from collections.abc import Callable

    from kubernetes.client import ApiClient

APP = "novacron-api"
SERVICE = "novacron-api"
CONTAINER = "api"
COLOURS = ("blue", "green")
CANARY = f"{APP}-canary"
CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION_ANNOTATION = "novacron.io/release-revision"
STUCK_REASONS = (
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "InvalidImageName",
    "CreateContainerError",
)
"""Pod waiting reasons that mean the rollout will not become ready without a new release."""


class ReleaseError(RuntimeError):
    """The cluster is not in a state the release runbooks can act on; the message says what and where."""


class RolloutFailed(ReleaseError):
    """A rollout can no longer become ready (pods stuck, progress deadline exceeded)."""


@dataclass(frozen=True)
class Workload:
    """What a Deployment is asked to run and what it runs now."""

    name: str
    image: str
    replicas: int
    ready: int
    updated: int
    available: int
    generation: int
    observed_generation: int
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rolled_out(self) -> bool:
        """Every desired replica runs the current template and is ready (``kubectl rollout status``)."""
        return (
            self.observed_generation >= self.generation
            and self.updated == self.replicas
            and self.ready == self.replicas
            and self.available == self.replicas
        )

    @property
    def deadline_exceeded(self) -> bool:
        return (self.conditions.get("Progressing") or {}).get("reason") == "ProgressDeadlineExceeded"

    @property
    def colour(self) -> str | None:
        return self.labels.get("color")

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> Workload:
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        main = next(
            (c for c in containers if c.get("name") == CONTAINER), containers[0] if containers else {}
        )
        return cls(
            name=meta["name"],
            image=str(main.get("image", "")),
            replicas=int(spec.get("replicas", 1)),
            # the apiserver omits zero counts: an absent readyReplicas means none are ready
            ready=int(status.get("readyReplicas") or 0),
            updated=int(status.get("updatedReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            generation=int(meta.get("generation") or 1),
            observed_generation=int(status.get("observedGeneration") or 0),
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            conditions={c["type"]: c for c in status.get("conditions") or []},
        )


def colour_deployment(colour: str) -> str:
    if colour not in COLOURS:
        raise ReleaseError(f"unknown colour {colour!r}; the release colours are {', '.join(COLOURS)}")
    return f"{APP}-{colour}"


def other_colour(colour: str) -> str:
    colour_deployment(colour)
    return COLOURS[1 - COLOURS.index(colour)]


class ReleaseCluster:
    """Read and change the API's release objects in one namespace."""

    def __init__(self, api_client: ApiClient | None = None, ns: str | None = None) -> None:
        # the client is imported by the task that talks to the cluster, not by the parse of a DAG file
        from kubernetes.client import AppsV1Api, AutoscalingV2Api, CoreV1Api

        hook = None if api_client is not None else cluster_hook()
        self.api_client = api_client or hook.api_client  # type: ignore[union-attr]
        self.apps = AppsV1Api(self.api_client)
        self.core = CoreV1Api(self.api_client)
        self.autoscaling = AutoscalingV2Api(self.api_client)
        self.namespace = ns or namespace()

    def _plain(self, obj: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self.api_client.sanitize_for_serialization(obj)
        return plain

    # -- reading --------------------------------------------------------------------------------------------
    def service(self) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            return self._plain(self.core.read_namespaced_service(SERVICE, self.namespace))
        except ApiException as exc:
            raise ReleaseError(
                f"cannot read Service {self.namespace}/{SERVICE}: {exc.status} {exc.reason}"
            ) from exc

    def active_colour(self) -> str:
        """Return the colour the Service selects; anything else is a state a person must look at first."""
        selector = (self.service().get("spec") or {}).get("selector") or {}
        colour = selector.get("color")
        if colour not in COLOURS:
            raise ReleaseError(
                f"Service {self.namespace}/{SERVICE} selects {selector}: no known colour "
                f"({', '.join(COLOURS)}); fix the selector before releasing"
            )
        return str(colour)

    def workload(self, name: str) -> Workload | None:
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.apps.read_namespaced_deployment(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ReleaseError(
                f"cannot read Deployment {self.namespace}/{name}: {exc.status} {exc.reason}"
            ) from exc
        return Workload.from_object(self._plain(obj))

    def require(self, name: str) -> Workload:
        found = self.workload(name)
        if found is None:
            raise ReleaseError(f"Deployment {self.namespace}/{name} does not exist")
        return found

    def pod_problems(self, deployment: str) -> list[str]:
        """Why pods of ``deployment``'s current template cannot become ready: stuck or unschedulable pods."""
        found = self.workload(deployment)
        if found is None:
            return []
        selector = ",".join(f"{k}={v}" for k, v in sorted(self._selector(deployment).items()))
        pods = self._plain(self.core.list_namespaced_pod(self.namespace, label_selector=selector))["items"]
        problems = []
        for pod in pods:
            name = pod["metadata"]["name"]
            containers = (pod.get("spec") or {}).get("containers") or []
            if not any(c.get("name") == CONTAINER and c.get("image") == found.image for c in containers):
                continue  # a pod of an older template being scaled away says nothing of this rollout
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                reason = ((status.get("state") or {}).get("waiting") or {}).get("reason")
                if reason in STUCK_REASONS:
                    problems.append(f"{name}: container {status['name']} {reason}")
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                    problems.append(f"{name}: Unschedulable ({cond.get('message', '')})")
        return problems

    def _selector(self, deployment: str) -> dict[str, str]:
        obj = self._plain(self.apps.read_namespaced_deployment(deployment, self.namespace))
        return dict(((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})

    # -- changing -------------------------------------------------------------------------------------------
    def set_image(self, deployment: str, image: str, cause: str, revision: int | None = None) -> Workload:
        """Point the API container at ``image`` (a rolling update when the Deployment has replicas)."""
        annotations = {CHANGE_CAUSE: cause}
        if revision is not None:
            annotations[REVISION_ANNOTATION] = str(revision)
        body = {
            "metadata": {"annotations": annotations},
            "spec": {"template": {"spec": {"containers": [{"name": CONTAINER, "image": image}]}}},
        }
        obj = self.apps.patch_namespaced_deployment(deployment, self.namespace, body)
        return Workload.from_object(self._plain(obj))

    def scale(self, deployment: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(
            deployment, self.namespace, {"spec": {"replicas": replicas}}
        )

    def switch_service(self, colour: str) -> dict[str, str]:
        """Point the Service at ``colour``; returns the new selector."""
        colour_deployment(colour)
        body = {"spec": {"selector": {"app": APP, "color": colour}}}
        obj = self._plain(self.core.patch_namespaced_service(SERVICE, self.namespace, body))
        return dict(obj["spec"]["selector"])

    def autoscaler_target(self) -> str | None:
        """Return the Deployment the API's autoscaler scales, or None when there is no autoscaler."""
        from kubernetes.client.exceptions import ApiException

        try:
            hpa = self._plain(self.autoscaling.read_namespaced_horizontal_pod_autoscaler(APP, self.namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return str(hpa["spec"]["scaleTargetRef"]["name"])

    def retarget_autoscaler(self, deployment: str) -> None:
        """Make the autoscaler scale ``deployment``: left on the old colour, it would scale it back up."""
        body = {
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment}}
        }
        self.autoscaling.patch_namespaced_horizontal_pod_autoscaler(APP, self.namespace, body)

    def create_canary(self, image: str, colour: str, replicas: int, cause: str) -> Workload:
        """Create (or update) the canary Deployment as a copy of the stable colour with the new image."""
        stable = self._plain(self.apps.read_namespaced_deployment(colour_deployment(colour), self.namespace))
        labels = {"app": APP, "color": colour, "track": "canary"}
        template = copy.deepcopy(stable["spec"]["template"])
        template["metadata"] = {"labels": labels}
        for container in template["spec"]["containers"]:
            if container["name"] == CONTAINER:
                container["image"] = image
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": CANARY, "labels": labels, "annotations": {CHANGE_CAUSE: cause}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": APP, "track": "canary"}},
                "template": template,
            },
        }
        existing = self.workload(CANARY)
        if existing is None:
            obj = self.apps.create_namespaced_deployment(self.namespace, body)
        else:
            obj = self.apps.patch_namespaced_deployment(CANARY, self.namespace, body)
        return Workload.from_object(self._plain(obj))

    def delete(self, deployment: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.apps.delete_namespaced_deployment(deployment, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- waiting --------------------------------------------------------------------------------------------
    def wait_rolled_out(
        self,
        deployment: str,
        timeout: float,
        poll: float = 1.0,
        on_progress: Callable[[Workload], None] | None = None,
    ) -> Workload:
        """Wait until ``deployment`` is fully rolled out; fail fast when its pods are stuck.

        Raises :class:`RolloutFailed` naming the stuck pods, an exceeded progress deadline, or the timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            current = self.require(deployment)
            if on_progress is not None:
                on_progress(current)
            if current.rolled_out:
                return current
            if current.deadline_exceeded:
                raise RolloutFailed(
                    f"{deployment}: progress deadline exceeded ({current.ready}/{current.replicas} ready)"
                )
            problems = self.pod_problems(deployment)
            if problems:
                raise RolloutFailed(f"{deployment}: pods cannot become ready: {'; '.join(problems[:5])}")
            if time.monotonic() >= deadline:
                raise RolloutFailed(
                    f"{deployment}: {current.ready}/{current.replicas} ready after {timeout:.0f} s"
                )
            time.sleep(poll)
