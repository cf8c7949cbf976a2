"""Watch streams: newline-delimited JSON events over a chunked HTTP response.

A watch ends at ``timeoutSeconds`` (clients such as ``kubernetes.watch.Watch`` rely on that to return) or
when the server stops, so no stream outlives the process's SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aiohttp import web

from sandbox.k8s.errors import failure_status
from sandbox.k8s.selectors import parse_field_selector, parse_label_selector
from sandbox.k8s.store import Store, Watcher

if TYPE_CHECKING:
    from sandbox.k8s.routing import Target

DEFAULT_TIMEOUT = 1800.0


def wants_watch(t: Target, query: dict[str, str]) -> bool:
    """``?watch=true|True|1`` (kubernetes_asyncio sends ``True``) or the legacy ``/watch/`` path."""
    return t.watch or query.get("watch", "").lower() in ("true", "1")


async def serve_watch(
    request: web.Request, store: Store, t: Target, stop: asyncio.Event
) -> web.StreamResponse:
    """Stream events until the timeout, the client leaving, or server shutdown."""
    query = request.query
    watcher = Watcher(
        t.res,
        t.namespace,
        parse_label_selector(query.get("labelSelector")),
        parse_field_selector(query.get("fieldSelector")),
    )
    if t.name:
        watcher.fields.append(("metadata.name", True, t.name))
    rv = query.get("resourceVersion", "")
    store.watchers.add(watcher)
    try:
        if rv in ("", "0"):
            for obj in store.list(t.res, t.namespace, watcher.labels, watcher.fields):
                watcher.offer("ADDED", obj)
            gone = False
        else:
            gone = not rv.isdigit() or not store.replay(watcher, int(rv))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if gone:
            status = failure_status(410, "Expired", f"too old resource version: {rv} ({store.rv})")
            await response.write(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
        else:
            await _pump(response, watcher, float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT), stop)
        await response.write_eof()
        return response
    except ConnectionResetError:  # the client went away (aiohttp's ClientConnectionResetError is one)
        return response
    finally:
        store.watchers.discard(watcher)


async def _pump(response: web.StreamResponse, watcher: Watcher, timeout: float, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    while not stop.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            item = await asyncio.wait_for(watcher.queue.get(), min(remaining, 0.5))
        except TimeoutError:
            continue
        if item is None:
            break
        etype, obj = item
        await response.write(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
