"""Server-side metadata, defaulting and validation.

Runbooks rely on what a real apiserver adds (uid, resourceVersion, generation, creationTimestamp) and on it
rejecting malformed objects with 422, so the emulator does both instead of storing whatever it is sent.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.k8s.errors import ApiError, invalid
from sandbox.k8s.selectors import from_label_selector, matches

if TYPE_CHECKING:
    from sandbox.k8s.resources import Resource

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_iso() -> str:
    """Return a ``metav1.Time`` (second precision, as the apiserver serialises it)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """Return a ``metav1.MicroTime``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def random_suffix(length: int = 5) -> str:
    """Use the apiserver's generateName alphabet, so names look familiar."""
    return "".join(random.choice(_SUFFIX_CHARS) for _ in range(length))


def clone(obj: Any) -> Any:
    """Deep copy via JSON: stored objects are JSON anyway, and this is faster than ``copy.deepcopy``."""
    return json.loads(json.dumps(obj))


def prune_nulls(value: Any) -> Any:
    """Drop null fields from a client's object, as decoding into the apiserver's typed structs does.

    kubectl sends e.g. ``metadata.creationTimestamp: null`` inside pod templates; kept, it would change the
    template's hash and roll out a new ReplicaSet for an unchanged template.
    """
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def prepare_create(res: Resource, body: Any, namespace: str | None) -> dict[str, Any]:
    """Check a create body and fill in the name; the store adds the rest of the metadata."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body of the request must be a JSON object")
    obj = prune_nulls(clone(body))
    obj["kind"] = obj.get("kind") or res.kind
    obj["apiVersion"] = obj.get("apiVersion") or res.api_version
    if obj["kind"] != res.kind:
        raise ApiError(400, f"the kind {obj['kind']!r} does not match the endpoint's kind {res.kind!r}")
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise invalid(res.kind, "", [("metadata", "must be an object")])
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{random_suffix()}"
    if res.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise ApiError(
                400, "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
        meta.pop(key, None)
    apply_defaults(res, obj)
    validate(res, obj)
    return obj


def initial_status(res: Resource) -> dict[str, Any]:
    """Status of a freshly created object; ``desiredReplicas`` is a required field of an HPA's status."""
    return {"desiredReplicas": 0} if res.kind == "HorizontalPodAutoscaler" else {}


def apply_defaults(res: Resource, obj: dict[str, Any]) -> None:
    """Apply the defaulting a real apiserver does for the fields the runbooks read back."""
    spec = obj.get("spec")
    if res.kind in ("Deployment", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if res.kind == "Deployment":
            spec.setdefault(
                "strategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            )
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        _default_pod_spec((spec.get("template") or {}).get("spec"))
    elif res.kind == "Pod":
        _default_pod_spec(spec)
    elif res.kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("clusterIP", f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif res.kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
    elif res.kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})


def _default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            tag = str(container.get("image", "")).rsplit("/", 1)[-1]
            container.setdefault(
                "imagePullPolicy", "Always" if tag.endswith(":latest") or ":" not in tag else "IfNotPresent"
            )
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})


def validate(res: Resource, obj: dict[str, Any]) -> None:
    """Reject what the apiserver would reject with 422 Invalid."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif not _NAME_RE.match(name) or len(name) > 253:
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                "of lower case alphanumeric characters, '-' or '.'",
            )
        )
    spec = obj.get("spec")
    if res.kind in ("Deployment", "ReplicaSet"):
        causes += _workload_causes(spec)
    elif res.kind == "Pod":
        causes += _containers_causes(spec, "spec")
    elif res.kind == "HorizontalPodAutoscaler":
        if not isinstance(spec, dict) or not spec.get("scaleTargetRef"):
            causes.append(("spec.scaleTargetRef", "Required value"))
        elif not isinstance(spec.get("maxReplicas"), int) or spec["maxReplicas"] < 1:
            causes.append(("spec.maxReplicas", "Invalid value: must be greater than or equal to 1"))
        elif spec.get("minReplicas", 1) > spec["maxReplicas"]:
            causes.append(("spec.minReplicas", "Invalid value: must be less than or equal to maxReplicas"))
    if causes:
        raise invalid(res.kind, name, causes)


def _workload_causes(spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: list[tuple[str, str]] = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    template = spec.get("template")
    if not isinstance(template, dict):
        return causes + [("spec.template", "Required value")]
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append(("spec.selector", "Required value"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not matches(from_label_selector(selector), labels):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "Invalid value: `selector` does not match template `labels`",
                )
            )
    return causes + _containers_causes(template.get("spec"), "spec.template.spec")


def _containers_causes(pod_spec: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(pod_spec, dict) or not pod_spec.get("containers"):
        return [(f"{where}.containers", "Required value")]
    causes: list[tuple[str, str]] = []
    for n, container in enumerate(pod_spec["containers"]):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"{where}.containers[{n}].name", "Required value"))
        elif not container.get("image"):
            causes.append((f"{where}.containers[{n}].image", "Required value"))
    return causes


def new_uid() -> str:
    """Object uids are random, as in Kubernetes."""
    return str(uuid.uuid4())


def template_hash(template: dict[str, Any]) -> str:
    """Hash a pod template stably and shortly (the ``pod-template-hash`` label)."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(template, sort_keys=True)).int
    chars = []
    for _ in range(10):
        digest, rem = divmod(digest, len(_SUFFIX_CHARS))
        chars.append(_SUFFIX_CHARS[rem])
    return "".join(chars)


def owner_ref(owner: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    """Build an ownerReference to ``owner`` (garbage collection follows these)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }
