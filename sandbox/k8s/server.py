"""The emulator's HTTP layer: discovery, the resource catch-all route, admin routes and lifecycle.

Bound to 127.0.0.1 only; any bearer token is accepted because the sandbox has no RBAC to emulate.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from sandbox.aio import stop_on_signals
from sandbox.k8s import admin, api, resources
from sandbox.k8s.controllers import manager
from sandbox.k8s.errors import ApiError
from sandbox.k8s.routing import parse
from sandbox.k8s.seed import load_seed
from sandbox.k8s.store import Store
from sandbox.k8s.subresources import pod_log
from sandbox.k8s.watch import serve_watch, wants_watch

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)
STATE_FILE = "k8s-state.json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as a Kubernetes ``Status``."""
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.status(), status=exc.code)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(ApiError(500, f"internal error: {exc}").status(), status=500)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        if "yaml" in request.content_type:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, f"the body of the request could not be decoded: {exc}") from exc


def _discovery(request: web.Request) -> dict[str, Any] | None:
    path = request.path.rstrip("/")
    parts = [p for p in path.split("/") if p]
    if path == "/version":
        return resources.VERSION_INFO
    if path == "/api":
        return resources.api_versions(f"{request.host}")
    if path == "/apis":
        return resources.api_group_list()
    if len(parts) == 2 and parts[0] == "api":
        return resources.resource_list("", parts[1])
    if len(parts) == 2 and parts[0] == "apis":
        return resources.api_group(parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return resources.resource_list(parts[1], parts[2])
    return None


def make_app(store: Store, stop: asyncio.Event) -> web.Application:
    """Build the aiohttp application around a store."""

    async def handle(request: web.Request) -> web.StreamResponse:
        doc = _discovery(request) if request.method == "GET" else None
        if doc is not None:
            return web.json_response(doc)
        target = parse(request.path)
        if target is None:
            raise ApiError(404, f"the server could not find the requested resource ({request.path})")
        query = dict(request.query)
        dry_run = bool(query.get("dryRun"))
        method = request.method
        if method == "GET" and target.sub == "log":
            pod = store.get(target.res, target.namespace, target.name or "")
            tail = int(query["tailLines"]) if query.get("tailLines") else None
            text = pod_log(pod, query.get("container"), tail, query.get("timestamps") == "true", store.faults)
            return web.Response(text=text, content_type="text/plain")
        if method == "GET" and wants_watch(target, query) and (target.name is None or target.watch):
            return await serve_watch(request, store, target, stop)
        if method == "GET":
            result = api.get(store, target) if target.name else api.list_objects(store, target, query)
            return web.json_response(result)
        if method == "POST":
            return web.json_response(api.create(store, target, await _body(request), dry_run), status=201)
        if method == "DELETE":
            if target.name is None:
                return web.json_response(api.delete_collection(store, target, query, dry_run))
            return web.json_response(api.delete(store, target, dry_run))
        if target.name is None:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if method == "PUT":
            return web.json_response(api.replace(store, target, await _body(request), dry_run))
        if method == "PATCH":
            body = await _body(request)
            return web.json_response(api.patch(store, target, body, request.content_type, dry_run))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[status_errors], client_max_size=8 * 1024 * 1024)
    app.add_routes([web.get(p, healthz) for p in ("/healthz", "/livez", "/readyz")])
    app.add_routes(admin.routes(store))
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def serve(
    port: int, state_dir: Path, seed: Path | None, ready_delay: float, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``), then flush the state file and exit."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(state_dir / STATE_FILE)
    if not store.load() and seed is not None:
        load_seed(store, seed)
        store.save()
    runner = web.AppRunner(make_app(store, stop), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    log.info("kubernetes API emulator on http://127.0.0.1:%d (state %s)", port, store.path)
    tasks = [
        asyncio.create_task(manager.run(store, stop, ready_delay)),
        asyncio.create_task(store.persist_loop(stop)),
    ]
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    await asyncio.gather(*tasks, return_exceptions=True)
    store.save()
