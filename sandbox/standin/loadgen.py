"""A built-in load generator, so metrics move without outside traffic.

It calls the stand-in itself at a steady rate across the endpoints, with bounded concurrency so a slow or
failing release cannot pile up unbounded requests.
"""

from __future__ import annotations

import asyncio
import logging
import random

import aiohttp

log = logging.getLogger(__name__)
ENDPOINTS = (("/api/v1/vms", 40), ("/api/v1/hosts", 25), ("/api/v1/migrations", 15), ("/api/v1/health", 20))
MAX_IN_FLIGHT = 50


async def _one(session: aiohttp.ClientSession, url: str, slots: asyncio.Semaphore) -> None:
    try:
        async with session.get(url) as resp:
            await resp.read()
    except (aiohttp.ClientError, TimeoutError):
        pass
    finally:
        slots.release()


async def run(base_url: str, rate: float, stop: asyncio.Event) -> None:
    """Send about ``rate`` requests per second to ``base_url`` until ``stop``."""
    if rate <= 0:
        return
    paths = [p for p, _ in ENDPOINTS]
    weights = [w for _, w in ENDPOINTS]
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not stop.is_set():
            if slots.locked():
                await asyncio.sleep(0.05)  # saturated: skip this beat rather than queue without bound
            else:
                await slots.acquire()
                url = base_url + random.choices(paths, weights)[0]
                task = asyncio.create_task(_one(session, url, slots))
                pending.add(task)
                task.add_done_callback(pending.discard)
            try:
                await asyncio.wait_for(stop.wait(), random.expovariate(rate))
            except TimeoutError:
                pass
        for task in list(pending):
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
