"""Resource verbs: get, list, create, replace, patch, delete, deletecollection, and the status/scale views.

These functions hold the apiserver semantics (status kept apart from spec, optimistic concurrency, dry-run);
the HTTP layer only decodes requests and encodes results.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from sandbox.k8s.errors import ApiError, success_status
from sandbox.k8s.meta import (
    apply_defaults,
    clone,
    initial_status,
    new_uid,
    now_iso,
    prepare_create,
    prune_nulls,
    validate,
)
from sandbox.k8s.patch import apply_patch
from sandbox.k8s.selectors import parse_field_selector, parse_label_selector
from sandbox.k8s.subresources import scaled, to_scale

if TYPE_CHECKING:
    from sandbox.k8s.resources import Resource
    from sandbox.k8s.routing import Target
    from sandbox.k8s.store import Store


def get(store: Store, t: Target) -> dict[str, Any]:
    """Read one object, or its Scale."""
    obj = store.get(t.res, t.namespace, t.name or "")
    return to_scale(obj) if t.sub == "scale" else obj


def list_objects(store: Store, t: Target, query: dict[str, str]) -> dict[str, Any]:
    """Return a typed list, with ``limit``/``continue`` paging."""
    items = store.list(
        t.res,
        t.namespace,
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector")),
    )
    start = 0
    if query.get("continue"):
        try:
            start = int(base64.urlsafe_b64decode(query["continue"].encode()).decode())
        except ValueError as exc:
            raise ApiError(400, "invalid continue token") from exc
    meta: dict[str, Any] = {"resourceVersion": str(store.rv)}
    limit = int(query.get("limit") or 0)
    if limit > 0:
        if start + limit < len(items):
            meta["continue"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        items = items[start : start + limit]
    else:
        items = items[start:]
    return {"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version, "metadata": meta, "items": items}


def create(store: Store, t: Target, body: Any, dry_run: bool) -> dict[str, Any]:
    """POST to a collection."""
    if t.name is not None:
        raise ApiError(405, "the server does not allow this method on the requested resource")
    obj = prepare_create(t.res, body, t.namespace)
    if t.res.has_status and t.res.kind not in ("Namespace", "Service"):
        obj["status"] = initial_status(t.res)
    if dry_run:
        meta = obj["metadata"]
        meta.update(uid=new_uid(), creationTimestamp=now_iso(), resourceVersion="")
        return obj
    return store.create(t.res, obj)


def _check_identity(t: Target, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    if meta.get("name") and meta["name"] != t.name:
        raise ApiError(
            400, f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})"
        )
    if t.res.namespaced and meta.get("namespace") and meta["namespace"] != t.namespace:
        raise ApiError(
            400, "the namespace of the provided object does not match the namespace sent on the request"
        )


def _finish(
    store: Store, res: Resource, old: dict[str, Any], new: dict[str, Any], sub: str | None, dry_run: bool
) -> dict[str, Any]:
    """Keep status and spec apart as the apiserver does, default, validate and store."""
    new = prune_nulls(new)
    if sub == "status":
        merged = clone(old)
        merged["status"] = new.get("status") or {}
        if new["metadata"].get("resourceVersion"):
            merged["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"]
        new = merged
    elif res.has_status and sub != "scale" and res.kind != "Namespace":
        new["status"] = old.get("status") or {}
    new["kind"], new["apiVersion"] = res.kind, res.api_version
    apply_defaults(res, new)
    validate(res, new)
    if dry_run:
        return new
    stored = store.update(res, new)
    return to_scale(stored) if sub == "scale" else stored


def replace(store: Store, t: Target, body: Any, dry_run: bool) -> dict[str, Any]:
    """PUT: a stale ``metadata.resourceVersion`` fails with 409 Conflict."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body of the request must be a JSON object")
    old = store.get(t.res, t.namespace, t.name or "")
    if t.sub == "scale":
        return _finish(store, t.res, old, scaled(clone(old), body), "scale", dry_run)
    _check_identity(t, body)
    new = clone(body)
    new.setdefault("metadata", {})
    new["metadata"]["name"] = t.name
    if t.res.namespaced:
        new["metadata"]["namespace"] = t.namespace
    return _finish(store, t.res, old, new, t.sub, dry_run)


def patch(store: Store, t: Target, body: Any, content_type: str, dry_run: bool) -> dict[str, Any]:
    """PATCH by Content-Type; a ``resourceVersion`` inside the patch is a precondition (409 when stale)."""
    old = store.get(t.res, t.namespace, t.name or "")
    if t.sub == "scale":
        return _finish(
            store,
            t.res,
            old,
            scaled(clone(old), apply_patch(content_type, to_scale(old), body)),
            "scale",
            dry_run,
        )
    new = apply_patch(content_type, clone(old), body)
    _check_identity(t, new)
    return _finish(store, t.res, old, new, t.sub, dry_run)


def delete(store: Store, t: Target, dry_run: bool) -> dict[str, Any]:
    """DELETE: pods come back as the object, everything else as a success Status."""
    obj = store.get(t.res, t.namespace, t.name or "")
    if not dry_run:
        obj = store.delete(t.res, t.namespace, t.name or "")
    if t.res.kind == "Pod":
        return obj
    return success_status(
        {"name": t.name, "group": t.res.group, "kind": t.res.plural, "uid": obj["metadata"]["uid"]}
    )


def delete_collection(store: Store, t: Target, query: dict[str, str], dry_run: bool) -> dict[str, Any]:
    """DELETE on a collection, honouring selectors."""
    doomed = list_objects(store, t, query)["items"]
    if not dry_run:
        for obj in doomed:
            if store.find(t.res, obj["metadata"].get("namespace"), obj["metadata"]["name"]):
                store.delete(t.res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
    return success_status({"kind": t.res.plural, "group": t.res.group})
