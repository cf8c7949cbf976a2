"""A minimal HorizontalPodAutoscaler controller.

There are no resource metrics in the emulator, so the controller does what the real one does independent of
metrics: it keeps the target's replicas inside [minReplicas, maxReplicas] and reports current/desired counts,
which is what the scaling runbooks check after raising an HPA's floor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.k8s.controllers.events import record
from sandbox.k8s.meta import clone, now_iso
from sandbox.k8s.resources import RESOURCES, by_kind

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

HPAS = by_kind("HorizontalPodAutoscaler")


def sync(store: Store) -> None:
    """One pass over every HPA."""
    for hpa in store.list(HPAS):
        ref = hpa["spec"]["scaleTargetRef"]
        api_version = ref.get("apiVersion") or "apps/v1"
        group = api_version.split("/")[0] if "/" in api_version else ""
        res = next((r for r in RESOURCES if r.kind == ref.get("kind") and r.group == group), None)
        target = store.find(res, hpa["metadata"]["namespace"], ref.get("name", "")) if res else None
        if target is None or res is None:
            _set_status(store, hpa, 0, 0, None, able=False)
            continue
        low, high = int(hpa["spec"].get("minReplicas", 1)), int(hpa["spec"]["maxReplicas"])
        current = int(target["spec"].get("replicas", 1))
        desired = min(max(current, low), high)
        rescaled = None
        if desired != current:
            scaled = clone(target)
            scaled["spec"]["replicas"] = desired
            store.update(res, scaled, check_rv=False)
            why = "below Spec.MinReplicas" if current < low else "above Spec.MaxReplicas"
            record(
                store,
                hpa,
                "SuccessfulRescale",
                f"New size: {desired}; reason: Current number of replicas {why}",
                component="horizontal-pod-autoscaler",
            )
            rescaled = now_iso()
        ready = int((target.get("status") or {}).get("replicas", 0))
        _set_status(store, hpa, ready, desired, rescaled, able=True)


def _set_status(
    store: Store, hpa: dict[str, Any], current: int, desired: int, rescaled: str | None, able: bool
) -> None:
    old = hpa.get("status") or {}
    stamp = now_iso()
    old_conds = {c["type"]: c for c in old.get("conditions") or []}

    def cond(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        prev = old_conds.get(ctype)
        keep = prev and prev.get("status") == ("True" if ok else "False") and prev.get("reason") == reason
        return {
            "type": ctype,
            "status": "True" if ok else "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": prev["lastTransitionTime"] if keep else stamp,
        }  # type: ignore[index]

    status: dict[str, Any] = {
        "currentReplicas": current,
        "desiredReplicas": desired,
        "conditions": [
            cond(
                "AbleToScale",
                able,
                "SucceededGetScale" if able else "FailedGetScale",
                "the HPA controller was able to get the target's current scale"
                if able
                else "the HPA controller was unable to get the target's current scale",
            ),
            cond(
                "ScalingActive",
                able,
                "ValidMetricFound" if able else "FailedGetScale",
                "the HPA was able to successfully calculate a replica count",
            ),
        ],
    }
    if old.get("lastScaleTime") or rescaled:
        status["lastScaleTime"] = rescaled or old["lastScaleTime"]
    if hpa["metadata"].get("generation"):
        status["observedGeneration"] = hpa["metadata"]["generation"]
    if status != old:
        new = clone(hpa)
        new["status"] = status
        store.update(HPAS, new, check_rv=False)
