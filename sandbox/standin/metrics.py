"""The stand-in's Prometheus metrics, with conventional names so alert rules fit a real deployment.

Request metrics are recorded per request; resource metrics (CPU, memory, replica counts, DWCP) are refreshed
every second from the cluster view, the request rate and the fault switches.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

if TYPE_CHECKING:
    from sandbox.standin.cluster import ClusterView
    from sandbox.standin.faults import Faults

SERVICE = "novacron-api"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BASELINE_REPLICAS = 3
CPU_PER_REQUEST = 0.02  # core-seconds per request
MB = 1024 * 1024


class Metrics:
    """Every metric the stand-in exports, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests served",
            ["service", "version", "track", "code", "endpoint"],
            registry=reg,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "version", "track", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.pool = Gauge(
            "novacron_db_pool_connections", "Database pool connections", ["state"], registry=reg
        )
        self.db_up = Gauge(
            "novacron_db_up", "1 when the last database connection attempt worked", registry=reg
        )
        self.query = Histogram(
            "novacron_db_query_duration_seconds",
            "Database query latency, pool wait included",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.cpu = Counter(
            "container_cpu_usage_seconds_total", "CPU time used", ["pod", "container"], registry=reg
        )
        self.memory = Gauge(
            "container_memory_working_set_bytes", "Working set", ["pod", "container"], registry=reg
        )
        self.ready = Gauge(
            "kube_deployment_status_replicas_ready", "Ready replicas", ["deployment"], registry=reg
        )
        self.spec = Gauge("kube_deployment_spec_replicas", "Desired replicas", ["deployment"], registry=reg)
        self.migrations = Counter("dwcp_migrations_total", "VM live migrations", ["result"], registry=reg)
        self.migration_time = Histogram(
            "dwcp_migration_duration_seconds",
            "Migration duration",
            buckets=(5, 10, 20, 30, 60, 120, 300),
            registry=reg,
        )
        self.bandwidth = Gauge(
            "dwcp_bandwidth_bytes_per_second", "DWCP link bandwidth", ["link"], registry=reg
        )
        self.retransmits = Counter("dwcp_retransmits_total", "DWCP retransmits", ["link"], registry=reg)
        self.agent_up = Gauge("dwcp_agent_up", "DWCP agent readiness", ["pod"], registry=reg)
        self._series: dict[str, set[tuple[str, ...]]] = {
            "containers": set(),
            "deployments": set(),
            "agents": set(),
        }
        self._recent: deque[float] = deque(maxlen=4000)
        for result in ("success", "failure"):
            self.migrations.labels(result=result)

    def observe_request(
        self, version: str, track: str, code: int, endpoint: str, seconds: float, now: float
    ) -> None:
        """Record one served request."""
        self.requests.labels(SERVICE, version, track, str(code), endpoint).inc()
        self.duration.labels(SERVICE, version, track, endpoint).observe(seconds)
        self._recent.append(now)

    def request_rate(self, now: float, window: float = 10.0) -> float:
        """Return requests per second over the last ``window`` seconds."""
        return sum(1 for t in self._recent if t > now - window) / window

    def set_pool(self, in_use: int, max_size: int, up: bool) -> None:
        """Mirror the pool's state."""
        self.pool.labels(state="in_use").set(in_use)
        self.pool.labels(state="max").set(max_size)
        self.db_up.set(1 if up else 0)

    def refresh(self, view: ClusterView, faults: Faults, now: float, dt: float) -> None:
        """Advance the resource metrics by ``dt`` seconds."""
        self._containers(view, faults, now, dt)
        self._replace(
            self.ready, "deployments", {(n,): float(d["ready"]) for n, d in view.deployments.items()}
        )
        for name, d in view.deployments.items():
            self.spec.labels(deployment=name).set(d["spec"])
        self._replace(self.agent_up, "agents", {(p,): 1.0 if r else 0.0 for p, r in view.dwcp_pods.items()})

    def _containers(self, view: ClusterView, faults: Faults, now: float, dt: float) -> None:
        pods = {b.pod: b for b in view.backends}
        for backends in view.by_deployment.values():
            pods.update({b.pod: b for b in backends})
        serving = max(len(view.backends), 1)
        per_pod_rps = self.request_rate(now) / serving
        extra = faults.cpu_load * BASELINE_REPLICAS / serving  # a fixed extra demand spread over the replicas
        seen = set()
        for backend in pods.values():
            in_service = backend in view.backends
            for container in backend.containers:
                key = (backend.pod, container)
                seen.add(key)
                main = container == backend.containers[0]
                cores = 0.02 + (per_pod_rps * CPU_PER_REQUEST + extra if main and in_service else 0.0)
                self.cpu.labels(*key).inc(min(cores, 1.0) * dt * random.uniform(0.95, 1.05))
                mem = (180 + 2 * per_pod_rps if main else 40) * MB * random.uniform(0.98, 1.02)
                self.memory.labels(*key).set(mem)
        for key in self._series["containers"] - seen:
            self.cpu.remove(*key)
            self.memory.remove(*key)
        self._series["containers"] = seen

    def _replace(self, gauge: Gauge, kind: str, values: dict[tuple[str, ...], float]) -> None:
        """Set the current series and drop those that vanished (pods and deployments come and go)."""
        for key, value in values.items():
            gauge.labels(*key).set(value)
        for key in self._series[kind] - set(values):
            gauge.remove(*key)
        self._series[kind] = set(values)
