"""PostgreSQL's own programs on a node's host (pg_ctl, pg_basebackup), its files, and its SQL.

Programs run on the node's host through its SSH connection (:mod:`novacron_runbooks.hooks.node`), as the
database's OS user that connection logs in as, with argv lists. SQL goes over TCP as the operations role
(:func:`novacron_runbooks.hooks.database.connect_node`), so a node is examined from the worker the way any
client reaches it.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from novacron_runbooks.hooks.database import connect_node
from novacron_runbooks.hooks.node import HostCommandError, HostError, HostShell, shell
from novacron_runbooks.hooks.pgbackrest import Node

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

__all__ = ["DatabaseNodeError", "Node", "Programs", "quote_guc", "wait_for", "write_identity"]

IDENTITY_BEGIN = "# node identity (novacron runbooks) begin"
IDENTITY_END = "# node identity (novacron runbooks) end"
NOT_RUNNING = 3  # pg_ctl status: no server runs in that folder
NO_FOLDER = 4  # pg_ctl status: the folder is not a data folder


class DatabaseNodeError(RuntimeError):
    """A node could not be examined or changed, or the change would be unsafe; the message says why."""


@dataclass(frozen=True)
class Programs:
    """How to run PostgreSQL's programs on a node's host and reach the node's SQL."""

    pg_bindir: str

    def host(self, node: Node) -> HostShell:
        return shell(node.ssh_conn_id, node.name)

    def run(self, node: Node, program: str, *args: str, what: str, timeout: float = 300) -> str:
        """Run ``program`` from the bindir on the node's host; raise naming the host on failure."""
        try:
            return self.host(node).run(
                [posixpath.join(self.pg_bindir, program), *args], what=what, timeout=timeout
            )
        except HostError as exc:
            raise DatabaseNodeError(str(exc)) from exc

    def connect(self, node: Node, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return connect_node(node.host, node.port, dbname)

    def running(self, node: Node) -> bool:
        return postmaster_runs(self.host(node), self.pg_bindir, node.data_dir)

    def exists(self, node: Node, path: str) -> bool:
        return self.host(node).exists(path)

    def write_file(self, node: Node, path: str, text: str, mode: int = 0o600) -> None:
        self.host(node).write_text(path, text, mode)

    def remove(self, node: Node, path: str) -> bool:
        return self.host(node).remove(path)

    def start(self, node: Node, timeout: float = 300) -> None:
        """``pg_ctl start -w``: returns once the node accepts connections (in whatever role)."""
        self.run(
            node,
            "pg_ctl",
            "start",
            "-D",
            node.data_dir,
            "-l",
            node.runbook_log,
            "-w",
            "-t",
            str(int(timeout)),
            what=f"{node.name}: pg_ctl start (log {node.runbook_log})",
            timeout=timeout + 30,
        )

    def stop(self, node: Node, mode: str) -> None:
        self.run(
            node,
            "pg_ctl",
            "stop",
            "-D",
            node.data_dir,
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            what=f"{node.name}: pg_ctl stop -m {mode}",
            timeout=90,
        )


def postmaster_runs(host: HostShell, pg_bindir: str, data_dir: str) -> bool:
    """``pg_ctl status`` on the host: a postmaster runs for the folder (whatever its role).

    An unreachable host raises (:class:`~novacron_runbooks.hooks.node.HostUnreachable`), and so does a
    status pg_ctl does not document: not being able to look is never "not running".
    """
    done = host.execute([posixpath.join(pg_bindir, "pg_ctl"), "status", "-D", data_dir], timeout=30)
    if done.status in (0, NOT_RUNNING, NO_FOLDER):
        return done.status == 0
    raise HostCommandError(host.name, "pg_ctl status", done.status, done.stderr + done.stdout)


def write_identity(programs: Programs, node: Node, settings: dict[str, str]) -> None:
    """Set the node's own settings (port, archiving through its host's config) in ``postgresql.auto.conf``.

    A restored or copied data folder carries the settings of the node it came from; read last, these lines
    win. The block is replaced, not appended again, so a node rebuilt many times keeps one block.
    """
    host = programs.host(node)
    path = posixpath.join(node.data_dir, "postgresql.auto.conf")
    lines = host.read_text(path).splitlines() if host.exists(path) else []
    if IDENTITY_BEGIN in lines and IDENTITY_END in lines:
        lines = lines[: lines.index(IDENTITY_BEGIN)] + lines[lines.index(IDENTITY_END) + 1 :]
    block = [
        IDENTITY_BEGIN,
        *(f"{key} = {quote_guc(value)}" for key, value in settings.items()),
        IDENTITY_END,
    ]
    host.write_text(path, "\n".join([*lines, *block]) + "\n")


def quote_guc(value: str) -> str:
    """Quote ``value`` as a postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it holds; a connection error counts as "not yet"."""
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except psycopg.Error:
            pass
        time.sleep(interval)
    raise DatabaseNodeError(f"{what}: not reached within {timeout:.0f} s")
