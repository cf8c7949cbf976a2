"""Read and create the kinds the kept manifests hold, through the ``KubernetesHook`` clients of a cluster.

Creation is idempotent the way ``kubectl create`` is not: an object that appeared meanwhile (409) counts as
present and is left as it is, because what the cluster holds is newer than the kept file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from novacron_runbooks.release.cluster import ReleaseError

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.release.cluster import ReleaseCluster

Key = tuple[str, str]
"""(kind, name) of an object in the cluster's namespace."""


def _clients(cluster: ReleaseCluster, kind: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(read, create) for ``kind``; the kinds an application recovery may create and nothing else."""
    core, apps, autoscaling = cluster.core, cluster.apps, cluster.autoscaling
    table = {
        "ConfigMap": (core.read_namespaced_config_map, core.create_namespaced_config_map),
        "Service": (core.read_namespaced_service, core.create_namespaced_service),
        "Deployment": (apps.read_namespaced_deployment, apps.create_namespaced_deployment),
        "HorizontalPodAutoscaler": (
            autoscaling.read_namespaced_horizontal_pod_autoscaler,
            autoscaling.create_namespaced_horizontal_pod_autoscaler,
        ),
    }
    if kind not in table:
        raise ReleaseError(f"a recovery does not create {kind} objects")
    return table[kind]


def exists(cluster: ReleaseCluster, kind: str, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    read, _ = _clients(cluster, kind)
    try:
        read(name, cluster.namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise ReleaseError(
            f"cannot read {kind} {cluster.namespace}/{name}: {exc.status} {exc.reason}"
        ) from exc
    return True


def present(cluster: ReleaseCluster, objects: list[dict[str, Any]]) -> set[Key]:
    """Return the (kind, name) of each kept object that exists in the cluster now."""
    keys = [(obj["kind"], obj["metadata"]["name"]) for obj in objects]
    return {key for key in keys if exists(cluster, *key)}


def create(cluster: ReleaseCluster, obj: dict[str, Any]) -> bool:
    """Create ``obj``; returns False when it already existed (left untouched)."""
    from kubernetes.client.exceptions import ApiException

    _, make = _clients(cluster, obj["kind"])
    try:
        make(cluster.namespace, obj)
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise ReleaseError(
            f"cannot create {obj['kind']} {cluster.namespace}/{obj['metadata']['name']}: "
            f"{exc.status} {exc.reason}"
        ) from exc
    return True
