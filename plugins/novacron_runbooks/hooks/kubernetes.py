"""Access to the NovaCron cluster through the cncf-kubernetes provider's ``KubernetesHook``."""

from __future__ import annotations

from functools import cache

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client import CoordinationV1Api

from novacron_runbooks import connections

DEFAULT_NAMESPACE = "novacron"


@cache
def cluster_hook(conn_id: str = connections.KUBERNETES) -> KubernetesHook:
    """One hook per process and connection: the provider caches its API clients on it."""
    return KubernetesHook(conn_id=conn_id)


def namespace(conn_id: str = connections.KUBERNETES) -> str:
    return cluster_hook(conn_id).get_namespace() or DEFAULT_NAMESPACE


def coordination_api(conn_id: str = connections.KUBERNETES) -> CoordinationV1Api:
    return CoordinationV1Api(cluster_hook(conn_id).api_client)
