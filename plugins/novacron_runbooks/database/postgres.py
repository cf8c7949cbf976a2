"""PostgreSQL's own programs for one node: pg_ctl, pg_basebackup, and the node's identity settings.

Programs run as the database's OS user (``runuser`` when we are root, as pgBackRest does) with argv lists,
never through a shell. Connections go through the node's local socket, trusted for that user, so a node can
be examined while its TCP port is closed to the application.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from novacron_runbooks.backup.database import connect_socket
from novacron_runbooks.hooks.pgbackrest import as_os_user

if TYPE_CHECKING:
    from collections.abc import Callable

OUTPUT_LINES = 12
IDENTITY_BEGIN = "# node identity (novacron runbooks) begin"
IDENTITY_END = "# node identity (novacron runbooks) end"


class DatabaseNodeError(RuntimeError):
    """A node could not be examined or changed, or the change would be unsafe; the message says why."""


@dataclass(frozen=True)
class Node:
    """One PostgreSQL node: its name (roles move between nodes, so the name says nothing of a role).

    ``host`` is the address clients use for it (empty: the database connection's host).
    """

    name: str
    data_dir: Path
    port: int
    host: str = ""


@dataclass(frozen=True)
class Programs:
    """How to run PostgreSQL's programs and reach a node locally."""

    os_user: str | None
    pg_bindir: str
    socket_dir: str

    def run(self, program: str, *args: str, what: str, timeout: float = 300) -> str:
        """Run ``program`` from the bindir as the OS user; raise with the end of its output on failure."""
        argv = as_os_user([str(Path(self.pg_bindir) / program), *args], self.os_user)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DatabaseNodeError(f"{what}: timed out after {timeout:.0f} s") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-OUTPUT_LINES:]
            raise DatabaseNodeError(f"{what} failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
        return proc.stdout

    def connect(self, node: Node, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return connect_socket(self.socket_dir, node.port, self.os_user or "postgres", dbname)

    def running(self, node: Node) -> bool:
        """``pg_ctl status``: a postmaster runs for the data folder (whatever its role)."""
        if not (node.data_dir / "postmaster.pid").exists():
            return False
        argv = as_os_user(
            [str(Path(self.pg_bindir) / "pg_ctl"), "status", "-D", str(node.data_dir)], self.os_user
        )
        return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode == 0

    def own(self, path: Path) -> None:
        """Give ``path`` to the OS user, so PostgreSQL can read and replace what we wrote."""
        if self.os_user and os.geteuid() == 0:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def write_file(self, path: Path, text: str, mode: int = 0o600) -> None:
        path.write_text(text)
        path.chmod(mode)
        self.own(path)

    def log_file(self, node: Node) -> Path:
        return node.data_dir.with_name(f"{node.data_dir.name}.runbook.log")

    def start(self, node: Node, timeout: float = 300) -> None:
        """``pg_ctl start -w``: returns once the node accepts connections (in whatever role)."""
        log = self.log_file(node)
        log.touch()
        self.own(log)
        self.run(
            "pg_ctl",
            "start",
            "-D",
            str(node.data_dir),
            "-l",
            str(log),
            "-w",
            "-t",
            str(int(timeout)),
            what=f"{node.name}: pg_ctl start (log {log})",
            timeout=timeout + 30,
        )

    def stop(self, node: Node, mode: str) -> None:
        self.run(
            "pg_ctl",
            "stop",
            "-D",
            str(node.data_dir),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            what=f"{node.name}: pg_ctl stop -m {mode}",
            timeout=90,
        )


def write_identity(programs: Programs, node: Node, settings: dict[str, str]) -> None:
    """Set the node's own settings (port, archiving as itself) in ``postgresql.auto.conf``.

    A restored or copied data folder carries the settings of the node it came from; read last, these lines
    win. The block is replaced, not appended again, so a node rebuilt many times keeps one block.
    """
    path = node.data_dir / "postgresql.auto.conf"
    lines = path.read_text().splitlines() if path.exists() else []
    if IDENTITY_BEGIN in lines and IDENTITY_END in lines:
        lines = lines[: lines.index(IDENTITY_BEGIN)] + lines[lines.index(IDENTITY_END) + 1 :]
    block = [
        IDENTITY_BEGIN,
        *(f"{key} = {quote_guc(value)}" for key, value in settings.items()),
        IDENTITY_END,
    ]
    programs.write_file(path, "\n".join([*lines, *block]) + "\n")


def quote_guc(value: str) -> str:
    """Quote ``value`` as a postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it holds; a connection error counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except psycopg.Error:
            pass
        time.sleep(interval)
    raise DatabaseNodeError(f"{what}: not reached within {timeout:.0f} s")
