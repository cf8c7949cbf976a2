"""The control loop that runs every controller in turn.

One failing controller must not stop the others or the loop, so each pass is guarded and logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sandbox.k8s.controllers import deployments, endpoints, events, hpa, replicasets
from sandbox.k8s.controllers.kubelet import Kubelet

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

log = logging.getLogger(__name__)


async def run(store: Store, stop: asyncio.Event, ready_delay: float, interval: float = 0.25) -> None:
    """Tick until ``stop`` is set."""
    kubelet = Kubelet(store, ready_delay)
    # ReplicaSets and Deployments run again after the kubelet so their status reflects pod readiness
    # within the same tick rather than one or two ticks later.
    steps = [
        ("hpa", lambda: hpa.sync(store)),
        ("deployments", lambda: deployments.sync(store)),
        ("replicasets", lambda: replicasets.sync(store)),
        ("kubelet", kubelet.sync),
        ("replicasets", lambda: replicasets.sync(store)),
        ("deployments", lambda: deployments.sync(store)),
        ("endpoints", lambda: endpoints.sync(store)),
    ]
    tick = 0
    while not stop.is_set():
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("controller %s failed", name)
        tick += 1
        if tick % 40 == 0:
            events.prune(store)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
