"""A simulation of DWCP, the VM live-migration protocol, for its metrics.

The DWCP debugging runbook reads success rate, duration, bandwidth and retransmits per link; these follow the
agents' readiness and the ``dwcp_degraded`` switch so a degraded link shows in every one of them.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.standin.cluster import ClusterView
    from sandbox.standin.faults import Faults
    from sandbox.standin.metrics import Metrics

LINKS = ("dc1-dc2", "dc1-dc3", "dc2-dc3")
HEALTHY_BANDWIDTH = 1.25e9  # 10 Gbit/s links
MIGRATIONS_PER_SECOND = 0.5


def tick(metrics: Metrics, view: ClusterView, faults: Faults, dt: float) -> None:
    """Advance the simulation by ``dt`` seconds."""
    agents = sum(1 for ready in view.dwcp_pods.values() if ready)
    degraded = faults.dwcp_degraded
    for link in LINKS:
        if agents == 0:
            metrics.bandwidth.labels(link=link).set(0)
            continue
        share = HEALTHY_BANDWIDTH * (0.12 if degraded else 0.85) * random.uniform(0.9, 1.1)
        metrics.bandwidth.labels(link=link).set(share)
        per_second = random.uniform(80, 200) if degraded else random.uniform(0.5, 3)
        metrics.retransmits.labels(link=link).inc(per_second * dt)
    if agents == 0:
        return
    expected = MIGRATIONS_PER_SECOND * dt
    count = int(expected) + (1 if random.random() < expected - int(expected) else 0)
    for _ in range(count):
        ok = random.random() < (0.7 if degraded else 0.99)
        metrics.migrations.labels(result="success" if ok else "failure").inc()
        mean = 75.0 if degraded else 18.0
        metrics.migration_time.observe(max(1.0, random.gauss(mean, mean / 4)))
