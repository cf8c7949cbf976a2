"""``python -m sandbox start | stop | status | fault <switch> <value> | connections``.

Every failure the sandbox can explain (a missing package, a port taken, a component that never became healthy)
ends as one clear message and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from sandbox import alert_timing, components, connections, orchestrator, postgres
from sandbox.faults import set_fault
from sandbox.layout import Layout, default_layout
from sandbox.processes import SandboxError
from sandbox.seed import SIZES

STANDIN_FAULTS = (
    "error_rate",
    "latency_ms",
    "down",
    "db_pool_pressure",
    "dwcp_degraded",
    "cpu_load",
    "clear",
)
"""The stand-in's switches as documented; the stand-in itself validates names and values."""
CLUSTER_FAULTS = {"primary": "pg_primary", "replica": "pg_replica"}


def _print_row(row: orchestrator.Row) -> None:
    mark = "ok  " if row.ok else "DOWN"
    port = str(row.port) if row.port else "-"
    pid = str(row.pid) if row.pid else "-"
    print(f"  {mark} {row.component:<13} {port:>6} {pid:>8}  {row.detail}", flush=True)


def cmd_start(layout: Layout, args: argparse.Namespace) -> int:
    vms = args.rows if args.rows is not None else SIZES[args.size] if args.size else None
    print(f"starting the sandbox in {layout.root}", flush=True)
    rows, elapsed = orchestrator.start(layout, vms, _print_row)
    down = [row.component for row in rows if not row.ok]
    print(f"sandbox start took {elapsed:.1f}s; connections: source {layout.connections_env}")
    if down:
        print(f"not healthy: {', '.join(down)} (logs in {layout.log_dir})", file=sys.stderr)
        return 1
    return 0


def cmd_stop(layout: Layout, _args: argparse.Namespace) -> int:
    def report(name: str, was_running: bool) -> None:
        print(f"  {name:<13} {'stopped' if was_running else 'was not running'}", flush=True)

    orchestrator.stop(layout, report)
    return 0


def cmd_status(layout: Layout, _args: argparse.Namespace) -> int:
    rows = orchestrator.status(layout)
    print(f"sandbox in {layout.root}\n  {'':4} {'component':<13} {'port':>6} {'pid':>8}  detail")
    for row in rows:
        _print_row(row)
    count, rss, pss = orchestrator.memory(layout)
    print(f"memory: {count} processes, RSS sum {rss / 1024:.0f} MiB, PSS sum {pss / 1024:.0f} MiB")
    times = orchestrator.start_times(layout)
    if times:
        print("last start times: " + ", ".join(f"{kind} {secs:.1f}s" for kind, secs in sorted(times.items())))
    return 0 if all(row.ok for row in rows) else 1


def _parse_value(raw: str | None) -> object:
    """JSON when it parses (0.2, 250, true), the plain string otherwise."""
    if raw is None:
        raise SandboxError("fault: a value is required, e.g. `fault error_rate 0.2`")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def cmd_fault(layout: Layout, args: argparse.Namespace) -> int:
    if args.switch in CLUSTER_FAULTS:
        name = CLUSTER_FAULTS[args.switch]
        if args.value == "stop":
            print(f"{name}: {'stopped' if components.stop(layout, name) else 'was not running'}")
        elif args.value == "start":
            cluster = postgres.primary(layout) if name == "pg_primary" else postgres.replica(layout)
            if cluster.running_pid() is None:
                postgres.start(cluster)
            print(f"{name}: running")
        else:
            raise SandboxError(f"fault {args.switch}: expected stop or start, got {args.value!r}")
        return 0
    body = {"clear": True} if args.switch == "clear" else {args.switch: _parse_value(args.value)}
    print(set_fault(layout, body))
    return 0


def cmd_alert_timing(layout: Layout, args: argparse.Namespace) -> int:
    speedups = {} if args.reset else dict.fromkeys(args.alerts, args.speedup)
    if not speedups and not args.reset:
        raise SandboxError("alert-timing: name the alerts to speed up, or pass --reset")
    changed = alert_timing.apply(layout, speedups)
    print(f"{', '.join(changed)}: {args.speedup}x faster" if changed else "alert rules as generated")
    return 0


def cmd_connections(layout: Layout, _args: argparse.Namespace) -> int:
    connections.write_env_file(layout)
    print(layout.connections_env.read_text(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.partition("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start everything (idempotent) and wait until healthy")
    size = start.add_mutually_exclusive_group()
    size.add_argument("--size", choices=sorted(SIZES), help="data size (default: small, or as seeded)")
    size.add_argument("--rows", type=int, help="VMs to seed (hosts, migrations, audit scale with it)")
    start.set_defaults(func=cmd_start)
    sub.add_parser("stop", help="stop everything").set_defaults(func=cmd_stop)
    sub.add_parser("status", help="health table; exit 1 if something is down").set_defaults(func=cmd_status)
    fault = sub.add_parser("fault", help="flip a stand-in fault switch, or stop/start a PostgreSQL cluster")
    fault.add_argument("switch", help=", ".join([*STANDIN_FAULTS, *CLUSTER_FAULTS]))
    fault.add_argument("value", nargs="?", help="switch value (JSON), or stop|start for primary/replica")
    fault.set_defaults(func=cmd_fault)
    timing = sub.add_parser(
        "alert-timing", help="speed up named alerts (their `for` and range windows) in the running Prometheus"
    )
    timing.add_argument("alerts", nargs="*", help="alert names, e.g. HighErrorRate")
    timing.add_argument("--speedup", type=int, default=20, help="divide `for` and windows by it (20)")
    timing.add_argument("--reset", action="store_true", help="load the rules exactly as generated")
    timing.set_defaults(func=cmd_alert_timing)
    sub.add_parser("connections", help="write and print the AIRFLOW_CONN_* lines").set_defaults(
        func=cmd_connections
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "rows", None) is not None and args.rows < 1:
        parser().error("--rows must be at least 1")
    try:
        return int(args.func(default_layout(), args))
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
