"""The sandbox's StatsD exporter: Airflow's own metrics in, per-runbook Prometheus series out.

Production and ``docker-compose.yaml`` run ``prom/statsd-exporter`` with ``include/statsd/mapping.yml``;
Debian ships no statsd_exporter, so the sandbox serves the same mapping with this small implementation of
the part Airflow needs: counters, gauges and timers over UDP, glob ``match`` rules with ``$n`` labels,
histogram observers with the mapping's buckets, timers in milliseconds observed in seconds, and unmatched
names with their dots made underscores. Unlike the Go exporter, an unmatched counter gains ``_total``.

``python -m sandbox.statsd --port P --udp-port U --mapping include/statsd/mapping.yml --state-dir D``
(``GET /metrics``, ``GET /healthz``)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from sandbox.aio import stop_on_signals

log = logging.getLogger("sandbox.statsd")
TIMER_TYPES = frozenset({"ms", "h", "d"})


@dataclass(frozen=True)
class Rule:
    """One ``mappings`` entry: a glob over dot-separated segments, the metric name and labels it gives."""

    pattern: re.Pattern[str]
    name: str
    labels: dict[str, str]
    buckets: tuple[float, ...]


@dataclass
class Mapper:
    """Map StatsD names to (Prometheus name, labels, buckets) as statsd_exporter's glob mappings do."""

    rules: list[Rule]
    buckets: tuple[float, ...]

    @classmethod
    def load(cls, path: Path) -> Mapper:
        config = yaml.safe_load(path.read_text()) or {}
        defaults = config.get("defaults", {})
        buckets = tuple(defaults.get("histogram_options", {}).get("buckets", Histogram.DEFAULT_BUCKETS))
        rules = []
        for entry in config.get("mappings", []):
            glob = re.escape(entry["match"]).replace(r"\*", "([^.]+)")
            own = entry.get("histogram_options", {}).get("buckets")
            labels = {str(k): str(v) for k, v in (entry.get("labels") or {}).items()}
            rules.append(Rule(re.compile(f"^{glob}$"), entry["name"], labels, tuple(own or buckets)))
        return cls(rules, buckets)

    def map(self, statsd_name: str) -> tuple[str, dict[str, str], tuple[float, ...]]:
        for rule in self.rules:
            match = rule.pattern.match(statsd_name)
            if match:
                labels = {key: match.expand(value.replace("$", "\\")) for key, value in rule.labels.items()}
                return rule.name, labels, rule.buckets
        return re.sub(r"[^a-zA-Z0-9_]", "_", statsd_name), {}, self.buckets


@dataclass
class Exporter:
    """Keep one Prometheus metric per mapped name; a name seen with other labels or type is dropped."""

    mapper: Mapper
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    metrics: dict[str, tuple[str, tuple[str, ...], Any]] = field(default_factory=dict)

    def _metric(self, kind: str, name: str, labels: tuple[str, ...], buckets: tuple[float, ...]) -> Any:
        known = self.metrics.get(name)
        if known is not None:
            return known[2] if known[:2] == (kind, labels) else None
        help_text = f"StatsD {kind} mapped by include/statsd/mapping.yml"
        if kind == "counter":
            metric: Any = Counter(name, help_text, labels, registry=self.registry)
        elif kind == "gauge":
            metric = Gauge(name, help_text, labels, registry=self.registry)
        else:
            metric = Histogram(name, help_text, labels, buckets=buckets, registry=self.registry)
        self.metrics[name] = (kind, labels, metric)
        return metric

    def line(self, text: str) -> None:
        """Apply one ``name:value|type[|@rate]`` line; a malformed line is logged and skipped."""
        try:
            statsd_name, rest = text.split(":", 1)
            raw, kind, *extra = rest.split("|")
            rate = next((float(e[1:]) for e in extra if e.startswith("@")), 1.0)
            value = float(raw)
        except ValueError:
            log.debug("skipped malformed statsd line %r", text)
            return
        name, labels, buckets = self.mapper.map(statsd_name)
        kinds = {"c": "counter", "g": "gauge"}
        metric = self._metric(kinds.get(kind, "histogram"), name, tuple(sorted(labels)), buckets)
        if metric is None or (kind not in kinds and kind not in TIMER_TYPES):
            return
        child = metric.labels(**labels) if labels else metric
        if kind == "c":
            child.inc(value / rate if rate > 0 else value)
        elif kind == "g" and raw[0] in "+-":
            child.inc(value)  # a signed gauge value is a change, not a level
        elif kind == "g":
            child.set(value)
        else:
            child.observe(value / 1000 if kind == "ms" else value)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        for text in data.decode(errors="replace").splitlines():
            if text.strip():
                self.exporter.line(text.strip())


def make_app(exporter: Exporter) -> web.Application:
    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(exporter.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "metrics": len(exporter.metrics)})

    app = web.Application()
    app.add_routes([web.get("/metrics", metrics), web.get("/healthz", healthz)])
    return app


async def serve(port: int, udp_port: int, mapping: Path, stop: asyncio.Event) -> None:
    exporter = Exporter(Mapper.load(mapping))
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(exporter), local_addr=("127.0.0.1", udp_port)
    )
    runner = web.AppRunner(make_app(exporter), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    log.info("statsd on udp://127.0.0.1:%d, metrics on http://127.0.0.1:%d/metrics", udp_port, port)
    stop_on_signals(stop)
    await stop.wait()
    transport.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.statsd", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="HTTP port of /metrics and /healthz")
    parser.add_argument("--udp-port", type=int, required=True, help="StatsD UDP port")
    parser.add_argument("--mapping", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True, help="unused: the contract of a component")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.port, args.udp_port, args.mapping, asyncio.Event()))


if __name__ == "__main__":
    main()
