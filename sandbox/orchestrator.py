"""Bring the whole sandbox up in dependency order, take it down in reverse, and report its state.

``start`` checks everything it can before touching anything (packages, configs, ports held by strangers), so a
failure leaves no half-started sandbox behind; it is idempotent, leaving running components alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox import components, connections, health, monitoring, pgbackrest, postgres, pycomponents, ssh, tls
from sandbox.processes import SandboxError, children, memory_kib, port_in_use
from sandbox.tools import find_tools

if TYPE_CHECKING:
    from collections.abc import Callable

    from sandbox.layout import Layout


@dataclass(frozen=True)
class Row:
    """One line of the start or status table."""

    component: str
    port: int | None
    pid: int | None
    ok: bool
    detail: str


def _port(layout: Layout, name: str) -> int | None:
    return None if name in components.PORTLESS else layout.port(name)


def preflight(layout: Layout) -> None:
    """Fail before starting anything: missing packages, invalid configs, or our ports held by others."""
    find_tools()
    conflicts = [
        f"port {layout.port(name)} ({name}) is already in use by a process that is not part of this sandbox"
        for name in components.ORDER
        if name not in components.PORTLESS
        and components.running_pid(layout, name) is None
        and port_in_use(layout.port(name))
    ]
    if conflicts:
        raise SandboxError(
            "; ".join(conflicts)
            + ". Stop that process, or move the sandbox with NOVACRON_SANDBOX_PORT_OFFSET=<n>."
        )
    for folder in (layout.run_dir, layout.log_dir, layout.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o755)
    postgres.prepare_dirs(layout)
    tls.prepare(layout)
    ssh.prepare(layout)
    pgbackrest.write_configs(layout)
    monitoring.prepare(layout)
    pycomponents.write_kubeconfig(layout)
    connections.write_env_file(layout)


def start(layout: Layout, vms: int | None, report: Callable[[Row], None]) -> tuple[list[Row], float]:
    """Start every component that is not running; returns the rows and the elapsed seconds."""
    began = time.monotonic()
    cold = not (postgres.primary(layout).data_dir / "PG_VERSION").exists()
    preflight(layout)
    options = components.StartOptions(vms=vms)
    rows: list[Row] = []
    for name in components.ORDER:
        step_began = time.monotonic()
        try:
            if components.needs_start(layout, name, options):
                detail = components.start(layout, name, options)
            else:
                detail = "already configured" if name in components.PORTLESS else "already running"
                if name == "pg_primary" and vms is not None:
                    detail += ", " + components.ensure_seed(layout, options)
            ok, health_detail = health.check(layout, name)
            detail = f"{detail}; {health_detail} ({time.monotonic() - step_began:.1f}s)"
        except SandboxError as exc:
            if name in components.CRITICAL:
                raise
            ok, detail = False, str(exc)
        row = Row(name, _port(layout, name), components.running_pid(layout, name), ok, detail)
        rows.append(row)
        report(row)
    elapsed = time.monotonic() - began
    all_running = all(row.detail.startswith("already") for row in rows)
    _record_start(layout, "noop" if all_running else "cold" if cold else "warm", elapsed)
    return rows, elapsed


def stop(layout: Layout, report: Callable[[str, bool], None]) -> None:
    """Stop in reverse order; every component is attempted even when an earlier one fails."""
    errors = []
    try:  # a scratch cluster a runbook restored into and left running
        if postgres.stop(postgres.scratch(layout)):
            report("pg_scratch", True)
    except SandboxError as exc:
        errors.append(f"pg_scratch: {exc}")
    for name in reversed(components.ORDER):
        if name in components.PORTLESS:
            continue
        try:
            report(name, components.stop(layout, name))
        except SandboxError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        raise SandboxError("; ".join(errors))


def status(layout: Layout) -> list[Row]:
    rows = []
    for name in components.ORDER:
        pid = components.running_pid(layout, name)
        ok, detail = health.check(layout, name)
        if pid is None and name not in components.PORTLESS:
            ok, detail = False, "not running"
        rows.append(Row(name, _port(layout, name), pid, ok, detail))
    return rows


def our_pids(layout: Layout) -> list[int]:
    """Every live process of the sandbox, helpers included (PostgreSQL backends, for example)."""
    pids: list[int] = []
    for name in components.ORDER:
        pid = components.running_pid(layout, name)
        if pid is not None:
            pids += [pid, *children(pid)]
    return pids


def memory(layout: Layout) -> tuple[int, int, int]:
    """(process count, RSS sum KiB, PSS sum KiB): RSS counts shared pages in every process, PSS once."""
    pids = our_pids(layout)
    sums = [memory_kib(pid) for pid in pids]
    return len(pids), sum(rss for rss, _ in sums), sum(pss for _, pss in sums)


def _record_start(layout: Layout, kind: str, seconds: float) -> None:
    path = layout.run_dir / "start_times.json"
    try:
        times = json.loads(path.read_text())
    except (OSError, ValueError):
        times = {}
    times[kind] = round(seconds, 1)
    path.write_text(json.dumps(times))


def start_times(layout: Layout) -> dict[str, float]:
    """Return the last start time of each kind: cold (initdb), warm (existing data), noop (all running)."""
    try:
        return dict(json.loads((layout.run_dir / "start_times.json").read_text()))
    except (OSError, ValueError):
        return {}
