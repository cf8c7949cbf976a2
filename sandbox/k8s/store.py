"""The in-memory object store, with watch fan-out and debounced persistence to JSON.

Everything runs on one asyncio loop, so store calls are atomic between awaits and need no locks. Stored
objects are never mutated in place: writers build a new dict, which lets watch history keep references.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.k8s.errors import ApiError, already_exists, conflict, not_found
from sandbox.k8s.meta import clone, new_uid, now_iso
from sandbox.k8s.resources import RESOURCES, Resource
from sandbox.k8s.selectors import Requirement, fields_match, matches

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

log = logging.getLogger(__name__)
HISTORY = 5000


@dataclass(eq=False)
class Watcher:
    """One open watch stream's filter and queue."""

    res: Resource
    namespace: str | None
    labels: list[Requirement]
    fields: list[tuple[str, bool, str]]
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=10000)
    )

    def wants(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return matches(self.labels, meta.get("labels")) and fields_match(self.fields, obj)

    def offer(self, etype: str, obj: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((etype, obj))
        except asyncio.QueueFull:
            log.warning("watch on %s fell behind; closing it", self.res.plural)


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "generation")}
    return obj | {"metadata": meta}


class Store:
    """Objects by resource key, then (namespace, name)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r.key: {} for r in RESOURCES}
        self.rv = 0
        self.history: collections.deque[tuple[int, str, str, dict[str, Any]]] = collections.deque(
            maxlen=HISTORY
        )
        self.watchers: set[Watcher] = set()
        self.faults: dict[str, str] = {}
        self.dirty = False

    # reading -----------------------------------------------------------------------------------------------
    def find(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Return the stored object (read-only) or None."""
        return self.objects[res.key].get(((namespace or "") if res.namespaced else "", name))

    def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.find(res, namespace, name)
        if obj is None:
            raise not_found(res.plural, name, res.group)
        return obj

    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        labels: list[Requirement] | None = None,
        fields: list[tuple[str, bool, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Return matching objects sorted by namespace and name (stable output for clients and tests)."""
        out = []
        for (ns, _), obj in sorted(self.objects[res.key].items()):
            if namespace and res.namespaced and ns != namespace:
                continue
            if matches(labels or [], obj["metadata"].get("labels")) and fields_match(fields or [], obj):
                out.append(obj)
        return out

    def all_objects(self) -> Iterator[tuple[Resource, dict[str, Any]]]:
        for res in RESOURCES:
            for obj in list(self.objects[res.key].values()):
                yield res, obj

    # writing -----------------------------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self.rv += 1
        self.dirty = True
        return str(self.rv)

    def _key(self, res: Resource, obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace", "") if res.namespaced else "", meta["name"])

    def create(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a prepared object, adding server metadata."""
        key = self._key(res, obj)
        if key in self.objects[res.key]:
            raise already_exists(res.plural, key[1], res.group)
        if res.namespaced and ("", key[0]) not in self.objects["/namespaces"]:
            raise ApiError(
                404, f'namespaces "{key[0]}" not found', "NotFound", {"name": key[0], "kind": "namespaces"}
            )
        meta = obj["metadata"]
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_iso()
        if "spec" in obj:
            meta["generation"] = 1
        meta["resourceVersion"] = self._next_rv()
        self.objects[res.key][key] = obj
        self._emit(res, "ADDED", obj, None)
        return obj

    def update(self, res: Resource, obj: dict[str, Any], check_rv: bool = True) -> dict[str, Any]:
        """Replace a stored object; a stale ``resourceVersion`` in ``obj`` fails with 409 Conflict."""
        key = self._key(res, obj)
        old = self.objects[res.key].get(key)
        if old is None:
            raise not_found(res.plural, key[1], res.group)
        meta = obj["metadata"]
        sent_rv = meta.get("resourceVersion")
        if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise conflict(res.plural, key[1], res.group)
        for immutable in ("uid", "creationTimestamp", "namespace", "name"):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
        if _comparable(obj) == _comparable(old):
            return old  # a no-op write keeps its resourceVersion, as on a real apiserver
        generation = old["metadata"].get("generation")
        if generation is not None:
            meta["generation"] = generation + 1 if obj.get("spec") != old.get("spec") else generation
        meta["resourceVersion"] = self._next_rv()
        self.objects[res.key][key] = obj
        self._emit(res, "MODIFIED", obj, old)
        return obj

    def delete(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        """Remove an object and, like the garbage collector, everything it owns."""
        old = self.get(res, namespace, name)
        del self.objects[res.key][self._key(res, old)]
        gone = clone(old)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        gone["metadata"]["deletionTimestamp"] = now_iso()
        self._emit(res, "DELETED", gone, None)
        uid = old["metadata"]["uid"]
        for dep_res, dep in self.all_objects():
            refs = dep["metadata"].get("ownerReferences") or []
            owned = any(ref.get("uid") == uid for ref in refs)
            in_ns = (
                res.kind == "Namespace" and dep_res.namespaced and dep["metadata"].get("namespace") == name
            )
            if (owned or in_ns) and self.find(
                dep_res, dep["metadata"].get("namespace"), dep["metadata"]["name"]
            ):
                self.delete(dep_res, dep["metadata"].get("namespace"), dep["metadata"]["name"])
        return gone

    def set_fault(self, namespace: str, deployment: str, mode: str) -> None:
        """Per-Deployment failure injection (kept with the state so it survives restarts)."""
        key = f"{namespace}/{deployment}"
        if mode == "none":
            self.faults.pop(key, None)
        else:
            self.faults[key] = mode
        self.dirty = True

    # watching ----------------------------------------------------------------------------------------------
    def _emit(self, res: Resource, etype: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.history.append((self.rv, res.key, etype, obj))
        for watcher in list(self.watchers):
            if watcher.res.key != res.key:
                continue
            now, before = watcher.wants(obj), watcher.wants(old)
            if etype == "MODIFIED" and now != before:
                watcher.offer("ADDED" if now else "DELETED", obj)
            elif now:
                watcher.offer(etype, obj)

    def replay(self, watcher: Watcher, since: int) -> bool:
        """Queue events after ``since``; False when history no longer reaches back that far (410 Gone)."""
        if since < self.rv and (not self.history or self.history[0][0] > since + 1):
            return False
        for rv, key, etype, obj in self.history:
            if rv > since and key == watcher.res.key and watcher.wants(obj):
                watcher.offer(etype, obj)
        return True

    # persistence -------------------------------------------------------------------------------------------
    def load(self) -> bool:
        """Load the state file; False when there is none (first start: seed)."""
        if not self.path or not self.path.exists():
            return False
        data = json.loads(self.path.read_text())
        self.rv = int(data.get("resourceVersion", 0))
        self.faults = dict(data.get("faults", {}))
        by_key = {r.key: r for r in RESOURCES}
        for key, items in data.get("objects", {}).items():
            res = by_key.get(key)
            for obj in items if res else []:
                self.objects[key][self._key(res, obj)] = obj
        return True

    def save(self) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a state file."""
        if not self.path:
            return
        data = {
            "resourceVersion": self.rv,
            "faults": self.faults,
            "objects": {key: list(objs.values()) for key, objs in self.objects.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
        self.dirty = False

    async def persist_loop(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Flush at most every ``interval`` seconds while anything changed, and once more on stop."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            if self.dirty:
                self.save()
