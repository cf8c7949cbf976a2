"""Emulator-only endpoints under ``/_emulator`` for tests and the demo.

They inject the failures a drill needs (a Deployment whose pods cannot pull, crash or schedule; pods killed)
through the same store and controllers, so runbooks observe them exactly as they would on a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.k8s.controllers.events import record
from sandbox.k8s.errors import ApiError
from sandbox.k8s.faults import MODES
from sandbox.k8s.resources import by_kind
from sandbox.k8s.selectors import parse_label_selector

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

PODS = by_kind("Pod")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "body must be JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def routes(store: Store) -> list[web.RouteDef]:
    """Build the admin routes bound to ``store``."""

    async def set_fault(request: web.Request) -> web.Response:
        body = await _json(request)
        mode = body.get("mode")
        if mode not in (*MODES, "none") or not body.get("deployment"):
            raise ApiError(422, f"need deployment and mode in {(*MODES, 'none')}")
        store.set_fault(body.get("namespace") or "default", body["deployment"], mode)
        return web.json_response({"faults": store.faults})

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response({"faults": store.faults})

    async def kill_pods(request: web.Request) -> web.Response:
        body = await _json(request)
        namespace = body.get("namespace") or "default"
        killed = []
        for pod in store.list(PODS, namespace, parse_label_selector(body.get("label_selector"))):
            for container in pod["spec"].get("containers") or []:
                record(store, pod, "Killing", f"Stopping container {container['name']}")
            store.delete(PODS, namespace, pod["metadata"]["name"])
            killed.append(pod["metadata"]["name"])
        return web.json_response({"killed": killed})

    async def state(request: web.Request) -> web.Response:
        counts = {key: len(objs) for key, objs in store.objects.items()}
        return web.json_response(
            {
                "resourceVersion": store.rv,
                "objects": counts,
                "faults": store.faults,
                "watchers": len(store.watchers),
            }
        )

    return [
        web.post("/_emulator/faults", set_fault),
        web.get("/_emulator/faults", get_faults),
        web.post("/_emulator/kill-pods", kill_pods),
        web.get("/_emulator/state", state),
    ]
