"""``python -m sandbox.standin --port P --k8s-url URL --db-dsn DSN --state-dir D [--follow-config]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from pathlib import Path

from aiohttp import web

from sandbox.aio import stop_on_signals
from sandbox.standin import dwcp, loadgen
from sandbox.standin.app import StandIn, make_app
from sandbox.standin.cluster import ClusterPoller
from sandbox.standin.db import Pool, PressureHolder
from sandbox.standin.faults import Faults

log = logging.getLogger("sandbox.standin")


async def _refresh(standin: StandIn, stop: asyncio.Event, interval: float = 1.0) -> None:
    """Advance resource and DWCP metrics once a second."""
    last = time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
        now = time.monotonic()
        view = standin.poller.view
        if standin.follow_config:
            await standin.pool.follow(view.config)
        standin.metrics.refresh(view, standin.faults, now, now - last)
        standin.metrics.set_pool(standin.pool.in_use, standin.pool.max_size, standin.pool.up)
        dwcp.tick(standin.metrics, view, standin.faults, now - last)
        last = now


async def _load_after_first_poll(standin: StandIn, port: int, rate: float, stop: asyncio.Event) -> None:
    """Start the load once the cluster has been read, so the first requests are not all 503."""
    for _ in range(50):
        if standin.poller.view.polled or stop.is_set():
            break
        await asyncio.sleep(0.1)
    await loadgen.run(f"http://127.0.0.1:{port}", rate, stop)


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run the server and its background tasks until SIGTERM/SIGINT (or ``stop``)."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    faults = Faults.load(args.state_dir)
    pool = Pool(args.db_dsn, max_size=args.pool_max)
    standin = StandIn(
        ClusterPoller(args.k8s_url, args.namespace, interval=args.poll_interval), pool, faults, args.state_dir
    )
    standin.follow_config = args.follow_config
    standin.metrics.set_pool(0, pool.max_size, False)
    runner = web.AppRunner(make_app(standin), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    log.info("NovaCron API stand-in on http://127.0.0.1:%d (cluster %s)", args.port, args.k8s_url)
    tasks = [
        asyncio.create_task(standin.poller.run(stop)),
        asyncio.create_task(_refresh(standin, stop)),
        asyncio.create_task(PressureHolder(pool, lambda: faults.db_pool_pressure).run(stop)),
        asyncio.create_task(_load_after_first_poll(standin, args.port, args.load_rps, stop)),
    ]
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    await pool.close()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, log to stderr, serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.standin", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--k8s-url", required=True, help="Kubernetes API base URL")
    parser.add_argument("--db-dsn", required=True, help="libpq DSN of the NovaCron database")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--follow-config",
        action="store_true",
        help="take the database host and port from the ConfigMap novacron-api-config, as the API does",
    )
    parser.add_argument("--namespace", default="novacron")
    parser.add_argument("--pool-max", type=int, default=10, help="database connection pool size")
    parser.add_argument("--load-rps", type=float, default=20.0, help="built-in load; 0 turns it off")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
