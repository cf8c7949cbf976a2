"""Deployment controller: one ReplicaSet per pod-template hash, rolled by maxSurge/maxUnavailable.

A new template gets a new ReplicaSet; old ones shrink only as new pods become ready, so a broken image
(ImagePullBackOff) leaves the old release serving, and the Deployment reports ``ProgressDeadlineExceeded``
once ``spec.progressDeadlineSeconds`` pass without progress, exactly what rollout gates look for.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.k8s.controllers.events import record
from sandbox.k8s.controllers.replicasets import REPLICASETS, owned_by
from sandbox.k8s.meta import clone, now_iso, owner_ref, prepare_create, template_hash
from sandbox.k8s.resources import by_kind

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

DEPLOYMENTS = by_kind("Deployment")
REVISION = "deployment.kubernetes.io/revision"
# Deployment annotations not copied to its ReplicaSets (the rest are, so rollout history shows change-cause).
SKIPPED = {
    REVISION,
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision-history",
}


def _revision(rs: dict[str, Any]) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def sync(store: Store) -> None:
    """One pass over every Deployment."""
    for dep in store.list(DEPLOYMENTS):
        rss = owned_by(store.list(REPLICASETS, dep["metadata"]["namespace"]), dep)
        new_rs = _ensure_new_rs(store, dep, rss)
        olds = sorted((rs for rs in rss if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]), key=_revision)
        if not dep["spec"].get("paused"):
            _roll(store, dep, new_rs, olds)
            _prune_history(store, dep, olds)
        rss = owned_by(store.list(REPLICASETS, dep["metadata"]["namespace"]), dep)
        _write_status(store, dep, new_rs["metadata"]["name"], rss)


def _ensure_new_rs(store: Store, dep: dict[str, Any], rss: list[dict[str, Any]]) -> dict[str, Any]:
    template = dep["spec"]["template"]
    digest = template_hash(_without_hash(template))
    top = max((_revision(rs) for rs in rss), default=0)
    for rs in rss:
        if _without_hash(rs["spec"]["template"]) == _without_hash(template):
            # a rollback to an older template takes the next revision; the Deployment's annotations
            # (change-cause) follow the current ReplicaSet, as ``kubectl rollout history`` shows them
            revision = str(top + 1 if _revision(rs) < top else _revision(rs))
            wanted = _rs_annotations(dep, revision)
            if (rs["metadata"].get("annotations") or {}) != wanted:
                synced = clone(rs)
                synced["metadata"]["annotations"] = wanted
                return store.update(REPLICASETS, synced, check_rv=False)
            return rs
    labels = dict((template.get("metadata") or {}).get("labels") or {}, **{"pod-template-hash": digest})
    pod_template = clone(template)
    pod_template.setdefault("metadata", {})["labels"] = labels
    selector = clone(dep["spec"]["selector"])
    selector.setdefault("matchLabels", {})["pod-template-hash"] = digest
    body = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{dep['metadata']['name']}-{digest}",
            "labels": labels,
            "annotations": _rs_annotations(dep, str(top + 1)),
            "ownerReferences": [owner_ref(dep)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": pod_template},
    }
    rs = prepare_create(REPLICASETS, body, dep["metadata"]["namespace"])
    rs["status"] = {"replicas": 0}
    return store.create(REPLICASETS, rs)


def _rs_annotations(dep: dict[str, Any], revision: str) -> dict[str, str]:
    copied = {k: v for k, v in (dep["metadata"].get("annotations") or {}).items() if k not in SKIPPED}
    return copied | {
        REVISION: revision,
        "deployment.kubernetes.io/desired-replicas": str(dep["spec"].get("replicas", 1)),
    }


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """Compare templates ignoring ``pod-template-hash``, as the real controller's EqualIgnoreHash does."""
    meta = dict(template.get("metadata") or {})
    meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    return {**template, "metadata": meta}


def _scale(store: Store, dep: dict[str, Any], rs: dict[str, Any], replicas: int) -> None:
    current = int(rs["spec"].get("replicas", 0))
    if replicas == current:
        return
    new = clone(rs)
    new["spec"]["replicas"] = replicas
    store.update(REPLICASETS, new, check_rv=False)
    verb = "up" if replicas > current else "down"
    record(
        store,
        dep,
        "ScalingReplicaSet",
        f"Scaled {verb} replica set {rs['metadata']['name']} from {current} to {replicas}",
        component="deployment-controller",
    )


def _roll(store: Store, dep: dict[str, Any], new_rs: dict[str, Any], olds: list[dict[str, Any]]) -> None:
    desired = int(dep["spec"].get("replicas", 1))
    strategy = dep["spec"].get("strategy") or {}
    old_total = sum(int(rs["spec"].get("replicas", 0)) for rs in olds)
    if strategy.get("type") == "Recreate":
        for rs in olds:
            _scale(store, dep, rs, 0)
        old_pods = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in olds)
        _scale(store, dep, new_rs, desired if old_pods == 0 else 0)
        return
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    new_count = int(new_rs["spec"].get("replicas", 0))
    target = desired if old_total == 0 else min(desired, max(new_count, desired + surge - old_total))
    _scale(store, dep, new_rs, target)
    ready = lambda rs: int((rs.get("status") or {}).get("readyReplicas", 0))  # noqa: E731
    removable = max(0, ready(new_rs) + sum(ready(rs) for rs in olds) - (desired - unavailable))
    for rs in olds:
        count = int(rs["spec"].get("replicas", 0))
        unhealthy = max(0, count - ready(rs))
        cut = min(count, unhealthy + removable)
        removable -= max(0, cut - unhealthy)
        _scale(store, dep, rs, count - cut)


def _prune_history(store: Store, dep: dict[str, Any], olds: list[dict[str, Any]]) -> None:
    limit = int(dep["spec"].get("revisionHistoryLimit", 10))
    idle = [
        rs for rs in olds if not rs["spec"].get("replicas") and not (rs.get("status") or {}).get("replicas")
    ]
    for rs in idle[: max(0, len(idle) - limit)]:
        store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])


def _condition(
    old: dict[str, Any] | None, ctype: str, ok: bool, reason: str, message: str, progressed: bool
) -> dict[str, Any]:
    stamp = now_iso()
    same = (
        old is not None and old.get("status") == ("True" if ok else "False") and old.get("reason") == reason
    )
    return {
        "type": ctype,
        "status": "True" if ok else "False",
        "lastUpdateTime": stamp if (progressed or not same) else old["lastUpdateTime"],  # type: ignore[index]
        "lastTransitionTime": old["lastTransitionTime"] if same else stamp,  # type: ignore[index]
        "reason": reason,
        "message": message,
    }


def _write_status(store: Store, dep: dict[str, Any], new_name: str, rss: list[dict[str, Any]]) -> None:
    desired = int(dep["spec"].get("replicas", 1))
    stat = lambda rs, key: int((rs.get("status") or {}).get(key, 0))  # noqa: E731
    new_rs = next(rs for rs in rss if rs["metadata"]["name"] == new_name)
    replicas = sum(stat(rs, "replicas") for rs in rss)
    available = sum(stat(rs, "availableReplicas") for rs in rss)
    counts = {
        "replicas": replicas,
        "updatedReplicas": stat(new_rs, "replicas"),
        "readyReplicas": sum(stat(rs, "readyReplicas") for rs in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, sum(int(rs["spec"].get("replicas", 0)) for rs in rss) - available),
    }
    old_status = dep.get("status") or {}
    old_conds = {c["type"]: c for c in old_status.get("conditions") or []}
    progressed = any(old_status.get(k, 0) != v for k, v in counts.items()) or new_name not in (
        old_conds.get("Progressing") or {}
    ).get("message", "")
    rolling = (dep["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    min_available = desired - _resolve(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    conditions = [
        _condition(
            old_conds.get("Available"),
            "Available",
            available >= min_available,
            *(
                ("MinimumReplicasAvailable", "Deployment has minimum availability.")
                if available >= min_available
                else ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
            ),
            progressed=False,
        )
    ]
    complete = counts["updatedReplicas"] == desired == replicas and available == desired
    if complete:
        prog = (True, "NewReplicaSetAvailable", f'ReplicaSet "{new_name}" has successfully progressed.')
    elif progressed or not _deadline_passed(old_conds.get("Progressing"), dep):
        prog = (True, "ReplicaSetUpdated", f'ReplicaSet "{new_name}" is progressing.')
    else:
        prog = (False, "ProgressDeadlineExceeded", f'ReplicaSet "{new_name}" has timed out progressing.')
    conditions.append(_condition(old_conds.get("Progressing"), "Progressing", *prog, progressed=progressed))
    status: dict[str, Any] = {"observedGeneration": dep["metadata"].get("generation", 1)}
    status.update({k: v for k, v in counts.items() if v})  # the apiserver omits zero counts
    status["conditions"] = conditions
    if status != old_status:
        new = clone(dep)
        new["status"] = status
        store.update(DEPLOYMENTS, new, check_rv=False)


def _deadline_passed(cond: dict[str, Any] | None, dep: dict[str, Any]) -> bool:
    if not cond or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True  # stays exceeded until the rollout makes progress again
    updated = datetime.strptime(cond["lastUpdateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return time.time() - updated > float(dep["spec"].get("progressDeadlineSeconds", 600))
