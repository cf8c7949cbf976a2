"""HTTP endpoints of the stand-in: the API as users see it, ``/metrics``, and the fault switches.

Every API request is routed to a ready pod the Service selects; that pod's image tag decides the behaviour
(``bad`` releases fail ~30% of requests, ``slow`` ones add ~800 ms, ``regress`` ones fail ~60% of
``/api/v1/migrations`` only: a defect in one endpoint that a smoke check of the main endpoints misses), on top
of the global fault switches.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import psycopg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandbox.standin.db import Pool, PoolTimeout
from sandbox.standin.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from sandbox.standin.cluster import Backend, ClusterPoller
    from sandbox.standin.faults import Faults

DB_ENDPOINTS = ("vms", "hosts", "migrations")
MAX_DELAY = 5.0  # seconds; keeps injected latency bounded
BAD_ERROR_RATE = 0.3
REGRESSION_ERROR_RATE = 0.6
REGRESSED_ENDPOINT = "/api/v1/migrations"
SLOW_EXTRA = 0.8
TARGET_HEADER = "X-Novacron-Deployment"


class StandIn:
    """State shared by the handlers and the background tasks."""

    def __init__(self, poller: ClusterPoller, pool: Pool, faults: Faults, state_dir: Path) -> None:
        self.poller = poller
        self.pool = pool
        self.faults = faults
        self.state_dir = state_dir
        self.metrics = Metrics()
        self.follow_config = False
        """Take the database address from the API's ConfigMap (the sandbox), not only from the DSN."""

    def _record(self, backend: Backend | None, code: int, endpoint: str, started: float) -> None:
        version, track = (backend.version, backend.track) if backend else ("none", "none")
        now = time.monotonic()
        self.metrics.observe_request(version, track, code, endpoint, now - started, now)

    def _reply(self, backend: Backend | None, code: int, body: dict[str, Any]) -> web.Response:
        headers = {"X-Novacron-Version": backend.version, "X-Novacron-Pod": backend.pod} if backend else {}
        return web.json_response(body, status=code, headers=headers)

    async def serve(
        self,
        request: web.Request,
        endpoint: str,
        work: Callable[[Backend], Awaitable[dict[str, Any]]],
        inject_errors: bool = True,
    ) -> web.Response:
        """Route one API request to a pod, apply the release's and the switches' faults, and record it."""
        started = time.monotonic()
        view = self.poller.view
        backend = view.pick(request.headers.get(TARGET_HEADER))
        if self.faults.down or backend is None:
            self._record(backend, 503, endpoint, started)
            why = "service down" if self.faults.down else "no ready pods behind the service"
            return self._reply(None, 503, {"error": why})
        tag = backend.version.lower()
        delay = (
            random.uniform(0.004, 0.02) + self.faults.latency_ms / 1000 + (SLOW_EXTRA if "slow" in tag else 0)
        )
        await asyncio.sleep(min(delay, MAX_DELAY))
        regressed = "regress" in tag and endpoint == REGRESSED_ENDPOINT
        failing = (
            ("bad" in tag and random.random() < BAD_ERROR_RATE)
            or (regressed and random.random() < REGRESSION_ERROR_RATE)
            or random.random() < self.faults.error_rate
        )
        if inject_errors and failing:
            code, body = 500, {"error": "internal server error", "pod": backend.pod}
        else:
            try:
                code, body = 200, await work(backend)
            except (psycopg.Error, PoolTimeout, OSError) as exc:
                code, body = 500, {"error": f"database unavailable: {type(exc).__name__}", "pod": backend.pod}
        self._record(backend, code, endpoint, started)
        return self._reply(backend, code, body)

    async def query(self, name: str) -> dict[str, Any]:
        """Run a DB query, timing the wait for a pooled connection too (what users feel)."""
        started = time.monotonic()
        try:
            rows = await self.pool.fetch(name)
        finally:
            self.metrics.query.observe(time.monotonic() - started)
            self.metrics.set_pool(self.pool.in_use, self.pool.max_size, self.pool.up)
        return {"items": rows, "count": len(rows)}


def make_app(standin: StandIn) -> web.Application:
    """Build the aiohttp application."""

    def db_handler(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return await standin.serve(request, f"/api/v1/{name}", lambda _: standin.query(name))

        return handler

    async def health(request: web.Request) -> web.Response:
        async def body(backend: Backend) -> dict[str, Any]:
            return {"status": "ok", "version": backend.version, "track": backend.track, "pod": backend.pod}

        return await standin.serve(request, "/api/v1/health", body, inject_errors=False)

    async def metrics(request: web.Request) -> web.Response:
        if standin.faults.down:
            return web.Response(status=503, text="service unavailable\n")
        body = generate_latest(standin.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(standin.faults.as_dict())

    async def set_faults(request: web.Request) -> web.Response:
        try:
            standin.faults.update(await request.json())
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        standin.faults.save(standin.state_dir)
        return web.json_response(standin.faults.as_dict())

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def cluster(request: web.Request) -> web.Response:
        view = standin.poller.view
        return web.json_response(
            {
                "selector": view.selector,
                "reachable": view.reachable,
                "backends": [b.__dict__ for b in view.backends],
                "deployments": view.deployments,
            }
        )

    app = web.Application()
    app.add_routes([web.get(f"/api/v1/{name}", db_handler(name)) for name in DB_ENDPOINTS])
    app.add_routes(
        [
            web.get("/api/v1/health", health),
            web.get("/metrics", metrics),
            web.get("/healthz", healthz),
            web.get("/_sandbox/faults", get_faults),
            web.post("/_sandbox/faults", set_faults),
            web.get("/_sandbox/cluster", cluster),
        ]
    )
    return app
