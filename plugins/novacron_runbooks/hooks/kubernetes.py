"""Access to the NovaCron cluster through the cncf-kubernetes provider's ``KubernetesHook``.

The provider's hook module pulls in the asyncio Kubernetes client (seconds of imports), and every DAG file
imports this module through the deploy lock: it is imported when a task first needs the cluster, not when
the DAG processor or a task's start-up parses a DAG file.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from novacron_runbooks import connections

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes.client import CoordinationV1Api

DEFAULT_NAMESPACE = "novacron"


@cache
def cluster_hook(conn_id: str = connections.KUBERNETES) -> KubernetesHook:
    """One hook per process and connection: the provider caches its API clients on it."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook  # noqa: PLC0415

    return KubernetesHook(conn_id=conn_id)


def namespace(conn_id: str = connections.KUBERNETES) -> str:
    return cluster_hook(conn_id).get_namespace() or DEFAULT_NAMESPACE


def coordination_api(conn_id: str = connections.KUBERNETES) -> CoordinationV1Api:
    from kubernetes.client import CoordinationV1Api  # noqa: PLC0415

    return CoordinationV1Api(cluster_hook(conn_id).api_client)
