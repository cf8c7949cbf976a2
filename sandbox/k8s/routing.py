"""Parse Kubernetes REST paths into (resource, namespace, name, subresource).

The emulator serves every resource through one catch-all route, so path parsing lives in one place and covers
both the namespaced and cluster-wide forms plus the legacy ``/watch/`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.k8s.resources import Resource, lookup


@dataclass(frozen=True)
class Target:
    """What a resource request addresses."""

    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None
    watch: bool


def parse(path: str) -> Target | None:
    """Resolve a resource path, or None when it is not one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = bool(rest) and rest[0] == "watch"
    if watch:
        rest = rest[1:]
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        res = lookup(group, version, rest[2])
        if res is not None and res.namespaced:
            namespace, rest = rest[1], rest[2:]
    res = lookup(group, version, rest[0])
    if res is None or len(rest) > 3:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in res.subresources:
        return None
    return Target(res, namespace, name, sub, watch)
