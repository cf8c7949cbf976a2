"""Endpoints controller: a Service's ready and not-ready pod addresses.

Traffic-switch runbooks verify that the Service selects ready pods after changing its selector; Endpoints is
how a real cluster answers that, so it is kept current here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.k8s.controllers.kubelet import is_ready
from sandbox.k8s.meta import clone, prepare_create
from sandbox.k8s.resources import by_kind
from sandbox.k8s.selectors import from_map, matches

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

SERVICES = by_kind("Service")
ENDPOINTS = by_kind("Endpoints")
PODS = by_kind("Pod")


def sync(store: Store) -> None:
    """One pass over every Service that has a selector."""
    for svc in store.list(SERVICES):
        selector = svc["spec"].get("selector")
        if not selector:
            continue
        namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        reqs = from_map(selector)
        ready, not_ready = [], []
        for pod in store.list(PODS, namespace):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or not matches(reqs, pod["metadata"].get("labels")):
                continue
            address = {
                "ip": ip,
                "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            (ready if is_ready(pod) else not_ready).append(address)
        ports = [
            {
                "name": p.get("name"),
                "port": p.get("targetPort") if isinstance(p.get("targetPort"), int) else p.get("port"),
                "protocol": p.get("protocol", "TCP"),
            }
            for p in svc["spec"].get("ports") or []
        ]
        subset: dict[str, Any] = {"ports": [{k: v for k, v in p.items() if v is not None} for p in ports]}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subsets = [subset] if ready or not_ready else []
        _write(store, namespace, name, svc, subsets)


def _write(
    store: Store, namespace: str, name: str, svc: dict[str, Any], subsets: list[dict[str, Any]]
) -> None:
    current = store.find(ENDPOINTS, namespace, name)
    if current is None:
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "labels": svc["metadata"].get("labels") or {}},
            "subsets": subsets,
        }
        store.create(ENDPOINTS, prepare_create(ENDPOINTS, body, namespace))
    elif current.get("subsets") != subsets:
        new = clone(current)
        new["subsets"] = subsets
        store.update(ENDPOINTS, new, check_rv=False)
