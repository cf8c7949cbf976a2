"""ReplicaSet controller: keep ``spec.replicas`` Pods per ReplicaSet and report their readiness.

When scaling down it removes unready pods first, then the newest, as the real controller does, so a scale-down
never takes a healthy pod while a broken one survives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.k8s.controllers.events import record
from sandbox.k8s.controllers.kubelet import is_ready
from sandbox.k8s.meta import clone, owner_ref, prepare_create, random_suffix
from sandbox.k8s.resources import by_kind

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

PODS = by_kind("Pod")
REPLICASETS = by_kind("ReplicaSet")


def owned_by(objs: list[dict[str, Any]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects whose ownerReferences name ``owner``'s uid."""
    uid = owner["metadata"]["uid"]
    return [o for o in objs if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]


def sync(store: Store) -> None:
    """One pass over every ReplicaSet."""
    for rs in store.list(REPLICASETS):
        namespace = rs["metadata"]["namespace"]
        pods = owned_by(store.list(PODS, namespace), rs)
        want = int(rs["spec"].get("replicas", 1))
        for _ in range(want - len(pods)):
            pods.append(_create_pod(store, rs))
        if len(pods) > want:
            doomed = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
            doomed.sort(key=is_ready)  # stable: unready first, newest first within each group
            for pod in doomed[: len(pods) - want]:
                store.delete(PODS, namespace, pod["metadata"]["name"])
                record(
                    store,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
            pods = owned_by(store.list(PODS, namespace), rs)
        _write_status(store, rs, pods)


def _create_pod(store: Store, rs: dict[str, Any]) -> dict[str, Any]:
    template = clone(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{rs['metadata']['name']}-{random_suffix()}",
            "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {},
            "ownerReferences": [owner_ref(rs)],
        },
        "spec": template.get("spec") or {},
    }
    pod = prepare_create(PODS, body, rs["metadata"]["namespace"])
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    stored = store.create(PODS, pod)
    record(
        store,
        rs,
        "SuccessfulCreate",
        f"Created pod: {stored['metadata']['name']}",
        component="replicaset-controller",
    )
    return stored


def _write_status(store: Store, rs: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    ready = sum(1 for p in pods if is_ready(p))
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    status = {k: v for k, v in status.items() if v}  # the apiserver omits zero counts
    status.setdefault("replicas", 0)
    if status != rs.get("status"):
        new = clone(rs)
        new["status"] = status
        store.update(REPLICASETS, new, check_rv=False)
