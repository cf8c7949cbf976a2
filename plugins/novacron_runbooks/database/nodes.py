"""The database's nodes as runbooks act on them: roles, fencing, promotion, restore in place, rebuild.

Which node is primary changes with every failover, so nothing here assumes it: each call asks the nodes.
The nodes come from the pgBackRest connection's ``nodes`` extra (each node's SSH connection, address, data
folder and pgbackrest.conf on its host, :mod:`novacron_runbooks.hooks.pgbackrest`). Every program and file
on a node is reached through that node's host (:mod:`novacron_runbooks.hooks.node`); SQL goes over TCP.

Safety rules, each enforced where the change happens:

- a data folder is only replaced (restore, rebuild) when its node is not a running primary;
- a fenced node (``<data_dir>.novacron-fenced`` beside its folder, plus ``standby.signal`` inside it) is not
  started again as it is: it can only come back rebuilt from the current primary or restored;
- a host that cannot be reached is never taken for a stopped node: the call raises instead;
- every step is check-then-act, so a retried task finds its work done and does nothing more.
"""

from __future__ import annotations

import posixpath
import time
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from novacron_runbooks import connections
from novacron_runbooks.database.postgres import (
    DatabaseNodeError,
    Node,
    Programs,
    wait_for,
    write_identity,
)
from novacron_runbooks.database.salvage import hold_wal, return_wal
from novacron_runbooks.hooks.pgbackrest import PROGRAM, PgBackRestSettings

if TYPE_CHECKING:
    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook

__all__ = ["DatabaseNodeError", "DatabaseNodes", "Node"]

PROMOTE_TIMEOUT = 120.0
RESTORE_TIMEOUT = 1800.0
STREAM_TIMEOUT = 120.0
STOP_SETTLE = 10.0


def conninfo(keywords: dict[str, str]) -> str:
    """Return a libpq ``key='value'`` string, quoted so no value (a path, a host) can add a keyword."""
    quoted = (
        "{}='{}'".format(key, value.replace("\\", "\\\\").replace("'", "\\'"))
        for key, value in keywords.items()
        if value
    )
    return " ".join(quoted)


class DatabaseNodes:
    """Read and change the roles of the database's nodes.

    :param nodes: the nodes, in the order the connection lists them.
    :param programs: how to run PostgreSQL's programs on their hosts.
    :param settings: the pgBackRest repository, the replication login and slot a rebuilt replica uses.
    """

    def __init__(self, nodes: list[Node], programs: Programs, settings: PgBackRestSettings) -> None:
        self.nodes = nodes
        self.programs = programs
        self.settings = settings
        self.slot = settings.replication_slot

    @classmethod
    def from_connection(cls, conn_id: str = connections.PGBACKREST) -> DatabaseNodes:
        conn = BaseHook.get_connection(conn_id)
        try:
            settings = PgBackRestSettings.from_extra(conn.extra_dejson, conn.password)
        except ValueError as exc:
            raise DatabaseNodeError(str(exc)) from exc
        if not settings.nodes:
            raise DatabaseNodeError(f"connection {conn_id}: extra 'nodes' must list the database's nodes")
        if not settings.pg_bindir:
            raise DatabaseNodeError(f"connection {conn_id}: extra pg_bindir is required")
        return cls(list(settings.nodes), Programs(settings.pg_bindir), settings)

    # -- reading --------------------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise DatabaseNodeError(f"no database node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")

    def role(self, node: Node) -> str:
        """Return ``"primary"``, ``"replica"`` or ``"down"`` (no answer on the node's address)."""
        try:
            with self.programs.connect(node) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except Exception:  # noqa: BLE001 - any failure to answer means the node is not serving
            return "down"
        return "replica" if row and row[0] else "primary"

    def roles(self) -> dict[str, str]:
        return {node.name: self.role(node) for node in self.nodes}

    def primary(self) -> Node | None:
        """Return the one primary; two primaries is a split brain a person must resolve, so it raises."""
        found = [node for node in self.nodes if self.role(node) == "primary"]
        if len(found) > 1:
            raise DatabaseNodeError(
                "split brain: " + ", ".join(n.name for n in found) + " all accept writes; stop one by hand"
            )
        return found[0] if found else None

    def replicas(self) -> list[Node]:
        return [node for node in self.nodes if self.role(node) == "replica"]

    def fenced(self, node: Node) -> bool:
        return self.programs.exists(node, node.fence_marker)

    def running(self, node: Node) -> bool:
        return self.programs.running(node)

    # -- changing -------------------------------------------------------------------------------------------
    def stop(self, node: Node, mode: str = "fast") -> bool:
        """Stop the node if it runs; returns whether it did (``immediate`` when ``fast`` fails)."""
        if mode not in ("smart", "fast", "immediate"):
            raise DatabaseNodeError(f"stop mode {mode!r}: use smart, fast or immediate")
        if not self.programs.running(node):
            return False
        for attempt in (mode, "immediate"):
            try:
                self.programs.stop(node, attempt)
                return True
            except DatabaseNodeError:
                # A postmaster killed a moment ago is still "running" until its exit is reaped, and pg_ctl
                # then reports it does not shut down: what counts is whether it runs now.
                try:
                    wait_for(lambda: not self.programs.running(node), STOP_SETTLE, f"{node.name} stopped")
                    return True
                except DatabaseNodeError:
                    if attempt == "immediate":
                        raise
        return True

    def start(self, node: Node) -> None:
        """Start the node (no-op when it runs); a fenced node is refused until rebuilt or restored."""
        if self.programs.running(node):
            return
        if self.fenced(node):
            raise DatabaseNodeError(
                f"{node.name} is fenced ({node.fence_marker}): rebuild it as a replica of the "
                "current primary or restore it; it must not come back as it was"
            )
        self.programs.start(node)

    def fence(self, node: Node) -> list[str]:
        """Stop the node and make sure it cannot come back as a primary; returns what was done (idempotent).

        ``standby.signal`` makes PostgreSQL start it in recovery whatever starts it (a service manager, a
        person); the marker beside the folder makes :meth:`start` refuse it and records why. The order is
        stop, signal, marker: a step interrupted half-way (the host's sshd gone) leaves a stopped node that
        a retry finishes fencing, never a marker on a running primary.
        """
        done = []
        if self.stop(node, "immediate"):
            done.append(f"stopped {node.name}")
        signal = posixpath.join(node.data_dir, "standby.signal")
        if self.programs.exists(
            node, posixpath.join(node.data_dir, "PG_VERSION")
        ) and not self.programs.exists(node, signal):
            self.programs.write_file(node, signal, "")
            done.append(f"wrote standby.signal in {node.data_dir}")
        if not self.fenced(node):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.programs.write_file(
                node, node.fence_marker, f"fenced by a runbook at {stamp}; rebuild or restore it\n", 0o644
            )
            done.append(f"fence marker {posixpath.basename(node.fence_marker)}")
        return done

    def promote(self, node: Node) -> None:
        """Promote a replica and wait until it accepts writes (no-op on a primary)."""
        role = self.role(node)
        if role == "primary":
            return
        if role != "replica":
            raise DatabaseNodeError(f"{node.name} is {role}: only a running replica can be promoted")
        with self.programs.connect(node) as conn:
            conn.execute("SELECT pg_promote(true, %s)", (int(PROMOTE_TIMEOUT),))
        wait_for(lambda: self.role(node) == "primary", PROMOTE_TIMEOUT, f"{node.name} writable after promote")

    def _refuse_primary(self, node: Node, action: str) -> None:
        if self.role(node) == "primary":
            raise DatabaseNodeError(f"refusing to {action} {node.name}: it is a running primary")

    def _clear_stale_pid(self, node: Node) -> None:
        """Remove ``postmaster.pid`` left by a crashed postmaster (pgBackRest refuses to restore over it)."""
        pid_file = posixpath.join(node.data_dir, "postmaster.pid")
        if self.programs.exists(node, pid_file) and not self.programs.running(node):
            self.programs.remove(node, pid_file)

    def _identity(self, node: Node) -> dict[str, str]:
        """Return what makes a copied folder this node: its port, and archiving through its host's config."""
        base = f"{PROGRAM} --config={node.config} --stanza={self.settings.stanza}"
        return {
            "port": str(node.port),
            "archive_command": f"{base} archive-push %p",
            "restore_command": f'{base} archive-get %f "%p"',
        }

    def restore_in_place(
        self,
        node: Node,
        hook: PgBackRestHook,
        *,
        backup_set: str | None,
        target_time: str | None,
        keep_wal: bool = False,
    ) -> None:
        """Restore a backup (default the newest) into the node's folder on its host, replay WAL, open it.

        ``target_time`` (validated by the caller) stops replay there and promotes; without it, replay runs
        to the end of the archived WAL. ``--delta`` reuses the files that already match. ``keep_wal`` keeps
        the WAL segments the folder held (a lost primary's, never archived) and puts them back before the
        start, so recovery replays them after the archive: the newest point is then the node's own last
        commit, not the last archived segment.
        """
        self._refuse_primary(node, "restore over")
        self.stop(node, "fast")
        self._clear_stale_pid(node)
        held = hold_wal(self.programs, node) if keep_wal else None
        options = ["--delta"]
        options += [f"--set={backup_set}"] if backup_set else []
        if target_time:
            options += ["--type=time", f"--target={target_time}", "--target-action=promote"]
        host = self.programs.host(node)
        host.run(["mkdir", "-p", "-m", "0700", node.data_dir], what=f"mkdir {node.data_dir}")
        hook.restore(node.ssh_conn_id, node.config, *options, timeout=RESTORE_TIMEOUT)
        self.programs.remove(
            node, posixpath.join(node.data_dir, "standby.signal")
        )  # a fence's: recovery must end
        if held is not None:
            return_wal(self.programs, node, held)
        write_identity(self.programs, node, self._identity(node))
        self.programs.remove(node, node.fence_marker)
        self.programs.start(node, timeout=RESTORE_TIMEOUT)
        wait_for(lambda: self.role(node) == "primary", RESTORE_TIMEOUT, f"{node.name} writable after restore")

    def rebuild_replica(self, node: Node, source: Node) -> None:
        """Replace the node's folder by a copy of ``source`` (pg_basebackup -R, over TCP); wait for streaming.

        pg_basebackup runs on the node's own host and logs in to ``source`` with the replication role of
        the connection's ``replication`` extra, whose password the host's passfile holds.
        """
        if node == source:
            raise DatabaseNodeError(f"cannot rebuild {node.name} from itself")
        if self.role(source) != "primary":
            raise DatabaseNodeError(
                f"{source.name} is {self.role(source)}: a replica is rebuilt from the primary"
            )
        if not self.settings.replication_user:
            raise DatabaseNodeError(f"connection {connections.PGBACKREST}: extra 'replication' names no user")
        self._refuse_primary(node, "rebuild")
        self.stop(node, "fast")
        if self.programs.running(node):
            raise DatabaseNodeError(f"{node.name} still runs after stop; not touching its folder")
        with self.programs.connect(source) as conn:  # a slot of the replica being replaced would pin WAL
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = %s AND NOT active",
                (self.slot,),
            )
        host = self.programs.host(node)
        host.run(["rm", "-rf", "--", node.data_dir], what=f"remove {node.data_dir}")
        login = {
            "host": source.host or node.host,
            "port": str(source.port),
            "user": self.settings.replication_user,
            "passfile": self.settings.replication_passfile,
        }
        self.programs.run(
            node,
            "pg_basebackup",
            f"--dbname={conninfo(login)}",
            f"--pgdata={node.data_dir}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--create-slot",
            f"--slot={self.slot}",
            what=f"pg_basebackup of {node.name} from {source.name}",
            timeout=RESTORE_TIMEOUT,
        )
        write_identity(self.programs, node, self._identity(node))
        self.programs.remove(node, node.fence_marker)
        self.programs.start(node)
        wait_for(lambda: self.streaming(node), STREAM_TIMEOUT, f"{node.name} streaming from {source.name}")

    def streaming(self, node: Node) -> bool:
        """Tell whether the node's WAL receiver streams from a primary."""
        with self.programs.connect(node) as conn:
            row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        return bool(row and row[0] == "streaming")
