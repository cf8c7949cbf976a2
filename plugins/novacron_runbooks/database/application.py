"""The application's side of a database change: where it connects, and whether it may write.

The API reads its database address from the ConfigMap ``novacron-api-config`` (``DATABASE_HOST`` /
``DATABASE_PORT``) through ``envFrom``, so a new address reaches it only when its pods restart. Repointing
therefore patches the ConfigMap and restarts the API Deployments the way ``kubectl rollout restart`` does (a
pod-template annotation), then waits until they are rolled out. The address itself is also written into the
template, which makes a retried repoint a no-op once the pods run with it.

Stopping writes scales the API Deployments to zero and records each original replica count in an annotation
on the Deployment, so a retry that finds zero replicas still knows the real count to resume.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from novacron_runbooks.release.cluster import APP

if TYPE_CHECKING:
    from novacron_runbooks.release.cluster import ReleaseCluster

CONFIG_MAP = "novacron-api-config"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DATABASE_ADDRESS = "novacron.io/database-address"
REPLICAS_BEFORE_STOP = "novacron.io/replicas-before-stop"
ROLLOUT_TIMEOUT = 300.0


def api_deployments(cluster: ReleaseCluster) -> list[str]:
    """Return the Deployments of the API (colours and canary), by their ``app`` label, sorted."""
    found = cluster.apps.list_namespaced_deployment(cluster.namespace, label_selector=f"app={APP}")
    return sorted(item.metadata.name for item in found.items)


def configured_address(cluster: ReleaseCluster) -> tuple[str, int]:
    """Return the database address the ConfigMap gives the application."""
    data = cluster.core.read_namespaced_config_map(CONFIG_MAP, cluster.namespace).data or {}
    return str(data.get("DATABASE_HOST", "")), int(data.get("DATABASE_PORT") or 0)


def repoint(cluster: ReleaseCluster, host: str, port: int, timeout: float = ROLLOUT_TIMEOUT) -> list[str]:
    """Point the application at ``host:port`` and restart its pods; returns what was done (idempotent)."""
    done = []
    if configured_address(cluster) != (host, port):
        body = {"data": {"DATABASE_HOST": host, "DATABASE_PORT": str(port)}}
        cluster.core.patch_namespaced_config_map(CONFIG_MAP, cluster.namespace, body)
        done.append(f"ConfigMap {CONFIG_MAP}: DATABASE_HOST={host} DATABASE_PORT={port}")
    address = f"{host}:{port}"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in api_deployments(cluster):
        obj = cluster.api_client.sanitize_for_serialization(
            cluster.apps.read_namespaced_deployment(name, cluster.namespace)
        )
        annotations = ((obj["spec"]["template"].get("metadata") or {}).get("annotations")) or {}
        if annotations.get(DATABASE_ADDRESS) != address:
            template = {"metadata": {"annotations": {RESTARTED_AT: now, DATABASE_ADDRESS: address}}}
            cluster.apps.patch_namespaced_deployment(
                name, cluster.namespace, {"spec": {"template": template}}
            )
            done.append(f"restarted {name}")
        cluster.wait_rolled_out(name, timeout)
    return done


def stop_writes(cluster: ReleaseCluster) -> dict[str, int]:
    """Scale the API Deployments to zero; returns the replica counts they had (those before any retry)."""
    seen = {}
    for name in api_deployments(cluster):
        workload = cluster.require(name)
        recorded = workload.annotations.get(REPLICAS_BEFORE_STOP)
        seen[name] = int(recorded) if recorded is not None else workload.replicas
        if recorded is None:
            body = {"metadata": {"annotations": {REPLICAS_BEFORE_STOP: str(workload.replicas)}}}
            cluster.apps.patch_namespaced_deployment(name, cluster.namespace, body)
        if workload.replicas:
            cluster.scale(name, 0)
    return seen


def resume_writes(cluster: ReleaseCluster, replicas: dict[str, int]) -> list[str]:
    """Scale the API Deployments back to ``replicas`` and drop the record of the stop."""
    done = []
    for name, count in sorted(replicas.items()):
        if cluster.workload(name) is None:
            continue
        cluster.scale(name, count)
        body = {"metadata": {"annotations": {REPLICAS_BEFORE_STOP: None}}}
        cluster.apps.patch_namespaced_deployment(name, cluster.namespace, body)
        done.append(f"{name} back to {count} replicas")
    return done
