"""Recording ``Event`` objects the way the kubelet and controllers do.

Incident runbooks read events (``Killing``, ``BackOff``, ``ScalingReplicaSet``), so they are stored as real
core/v1 Events, deduplicated by object, reason and message with a rising ``count``, and pruned so a crash loop
cannot grow the store without bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.k8s.meta import clone, now_iso, random_suffix
from sandbox.k8s.resources import by_kind

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

EVENTS = by_kind("Event")
MAX_EVENTS_PER_NAMESPACE = 500


def record(
    store: Store,
    obj: dict[str, Any],
    reason: str,
    message: str,
    etype: str = "Normal",
    component: str = "kubelet",
) -> None:
    """Add or bump an event about ``obj``."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    if store.find(by_kind("Namespace"), None, namespace) is None:
        return
    stamp = now_iso()
    for event in store.list(EVENTS, namespace):
        inv = event.get("involvedObject") or {}
        if (
            inv.get("uid") == meta.get("uid")
            and event.get("reason") == reason
            and event.get("message") == message
        ):
            bumped = clone(event)
            bumped["count"] = int(event.get("count", 1)) + 1
            bumped["lastTimestamp"] = stamp
            store.update(EVENTS, bumped, check_rv=False)
            return
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{random_suffix(16)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": namespace,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": etype,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "",
        "source": {"component": component},
    }
    store.create(EVENTS, event)


def prune(store: Store) -> None:
    """Drop the oldest events beyond the per-namespace cap (a real cluster expires them after an hour)."""
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for event in store.list(EVENTS):
        by_ns.setdefault(event["metadata"]["namespace"], []).append(event)
    for namespace, events in by_ns.items():
        if len(events) > MAX_EVENTS_PER_NAMESPACE:
            events.sort(key=lambda e: (e.get("lastTimestamp") or "", int(e["metadata"]["resourceVersion"])))
            for event in events[: len(events) - MAX_EVENTS_PER_NAMESPACE]:
                store.delete(EVENTS, namespace, event["metadata"]["name"])
