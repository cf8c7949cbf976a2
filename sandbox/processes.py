"""Detached processes, pid files, waiting and stopping: the mechanics every sandbox component shares.

A pid file records the pid *and* the kernel's start time of that process, so a recycled pid is never mistaken
for one of ours (stopping a stranger's process would be far worse than leaving a stale file behind).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.layout import HOST

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from sandbox.layout import Layout


class SandboxError(RuntimeError):
    """A failure the CLI reports as one clear line instead of a traceback."""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (which may itself contain spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot; ``None`` when no such process exists."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int) -> bool:
    """Tell whether ``pid`` lives; a zombie counts as gone because it holds no port and does no work."""
    _reap(pid)
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def _reap(pid: int) -> None:
    """Collect ``pid`` when it is our own exited child, so a long-lived caller (pytest) leaves no zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@dataclass(frozen=True)
class PidFile:
    """``<run_dir>/<component>.pid``: the identity of a process the sandbox started."""

    path: Path

    @classmethod
    def of(cls, layout: Layout, component: str) -> PidFile:
        return cls(layout.run_dir / f"{component}.pid")

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": pid, "start_time": start_time(pid)}))

    def running_pid(self) -> int | None:
        """Return the recorded pid if that very process still runs; a stale file is removed."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        pid = int(data["pid"])
        if is_alive(pid) and start_time(pid) == data.get("start_time"):
            return pid
        self.path.unlink(missing_ok=True)
        return None


def spawn(
    layout: Layout,
    component: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session (so it outlives this CLI), log to ``<log_dir>/<component>.log``."""
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = layout.log_dir / f"{component}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    PidFile.of(layout, component).write(proc.pid)
    return proc.pid


def _signal(pid: int, sig: signal.Signals) -> bool:
    """Signal the process group ``pid`` leads (falling back to ``pid`` alone); False when it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid`` and its process group, SIGKILL after ``timeout`` s; every descendant dies too.

    Descendants that left the group die as well: sshd's per-connection children start their own session, so
    an SSH client still connected (a worker's cached session) kept them alive after their listener stopped.
    """
    descendants = children(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _signal(pid, sig):
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_alive(pid):
            time.sleep(0.05)
        if not is_alive(pid):
            break
    try:  # helpers the leader left behind
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(p) for p in (pid, *descendants)):
        time.sleep(0.05)
    survivors = [p for p in (pid, *descendants) if is_alive(p)]
    if survivors:
        raise SandboxError(f"processes {survivors} of {pid} survived SIGKILL")


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something already listens on (or holds) ``host:port``; binding is the only reliable test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it holds; raise naming ``what`` so a timeout says which component hung."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise SandboxError(f"{what}: not healthy after {timeout:.0f}s")


def children(pid: int) -> list[int]:
    """All descendants of ``pid`` (PostgreSQL's backends, for example), found through ``/proc``."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parent_of[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parent_of.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS splits shared pages (PostgreSQL's shared buffers) fairly."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0])
            elif key == "Pss":
                pss = int(value.split()[0])
    except OSError:
        pass
    return rss, pss
