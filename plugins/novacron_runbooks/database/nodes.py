"""The database's nodes as runbooks act on them: roles, fencing, promotion, restore in place, rebuild.

Which node is primary changes with every failover, so nothing here assumes it: each call asks the nodes.
The nodes come from the pgBackRest connection's ``nodes`` extra (``[{"name", "data_dir", "port"}, ...]``),
beside the OS user, PostgreSQL's bindir and the socket folder that connection already names.

Safety rules, each enforced where the change happens:

- a data folder is only replaced (restore, rebuild) when its node is not a running primary;
- a fenced node (``<data_dir>.novacron-fenced`` beside its folder, plus ``standby.signal`` inside it) is not
  started again as it is: it can only come back rebuilt from the current primary or restored;
- every step is check-then-act, so a retried task finds its work done and does nothing more.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from novacron_runbooks.hooks.pgbackrest import PgBackRestSettings

if TYPE_CHECKING:
    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook

__all__ = ["DatabaseNodeError", "DatabaseNodes", "Node"]

FENCE_SUFFIX = ".novacron-fenced"
DEFAULT_SLOT = "novacron_replica"
PROMOTE_TIMEOUT = 120.0
RESTORE_TIMEOUT = 1800.0
STREAM_TIMEOUT = 120.0
STOP_SETTLE = 10.0


class DatabaseNodes:
    """Read and change the roles of the database's nodes.

    :param nodes: the nodes, in the order the connection lists them.
    :param programs: how to run PostgreSQL's programs on them.
    :param settings: the pgBackRest repository, for restores and for each node's archive commands.
    :param slot: the physical replication slot a rebuilt replica streams through.
    """

    def __init__(
        self, nodes: list[Node], programs: Programs, settings: PgBackRestSettings, slot: str = DEFAULT_SLOT
    ) -> None:
        self.nodes = nodes
        self.programs = programs
        self.settings = settings
        self.slot = slot

    @classmethod
    def from_connection(cls, conn_id: str = connections.PGBACKREST) -> DatabaseNodes:
        conn = BaseHook.get_connection(conn_id)
        extra: dict[str, Any] = conn.extra_dejson
        settings = PgBackRestSettings.from_extra(extra, conn.password)
        raw = extra.get("nodes")
        if not isinstance(raw, list) or not raw:
            raise DatabaseNodeError(f"connection {conn_id}: extra 'nodes' must list the database's nodes")
        try:
            nodes = [
                Node(str(n["name"]), Path(str(n["data_dir"])), int(n["port"]), str(n.get("host") or ""))
                for n in raw
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise DatabaseNodeError(
                f"connection {conn_id}: each of 'nodes' needs name, data_dir and port ({exc})"
            ) from exc
        if not settings.pg_bindir or not settings.pg_socket_dir:
            raise DatabaseNodeError(f"connection {conn_id}: extras pg_bindir and pg_socket_dir are required")
        programs = Programs(settings.os_user, settings.pg_bindir, settings.pg_socket_dir)
        return cls(nodes, programs, settings, str(extra.get("replication_slot") or DEFAULT_SLOT))

    # -- reading --------------------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise DatabaseNodeError(f"no database node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")

    def role(self, node: Node) -> str:
        """Return ``"primary"``, ``"replica"`` or ``"down"`` (no answer on the node's socket)."""
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

    def fence_marker(self, node: Node) -> Path:
        return node.data_dir.with_name(node.data_dir.name + FENCE_SUFFIX)

    def fenced(self, node: Node) -> bool:
        return self.fence_marker(node).exists()

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
                f"{node.name} is fenced ({self.fence_marker(node)}): rebuild it as a replica of the "
                "current primary or restore it; it must not come back as it was"
            )
        self.programs.start(node)

    def fence(self, node: Node) -> list[str]:
        """Stop the node and make sure it cannot come back as a primary; returns what was done (idempotent).

        ``standby.signal`` makes PostgreSQL start it in recovery whatever starts it (a service manager, a
        person); the marker beside the folder makes :meth:`start` refuse it and records why.
        """
        done = []
        if self.stop(node, "immediate"):
            done.append(f"stopped {node.name}")
        signal = node.data_dir / "standby.signal"
        if (node.data_dir / "PG_VERSION").exists() and not signal.exists():
            self.programs.write_file(signal, "")
            done.append(f"wrote {signal.name} in {node.data_dir}")
        marker = self.fence_marker(node)
        if not marker.exists():
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.programs.write_file(
                marker, f"fenced by a runbook at {stamp}; rebuild or restore it\n", 0o644
            )
            done.append(f"fence marker {marker.name}")
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
        pid_file = node.data_dir / "postmaster.pid"
        if pid_file.exists() and not self.programs.running(node):
            pid_file.unlink()

    def _identity(self, node: Node) -> dict[str, str]:
        """Return what makes a copied folder this node: its port, and archiving as its own folder."""
        program = shutil.which("pgbackrest") or "pgbackrest"
        base = f"{program} --config={self.settings.config} --stanza={self.settings.stanza}"
        own = f"--pg1-path={node.data_dir}"
        return {
            "port": str(node.port),
            "archive_command": f"{base} {own} archive-push %p",
            "restore_command": f'{base} {own} archive-get %f "%p"',
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
        """Restore a backup (default the newest) into the node's folder and replay WAL, then open it.

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
        options = [f"--pg1-path={node.data_dir}", "--delta"]
        options += [f"--set={backup_set}"] if backup_set else []
        if target_time:
            options += ["--type=time", f"--target={target_time}", "--target-action=promote"]
        node.data_dir.mkdir(parents=True, exist_ok=True)
        self.programs.own(node.data_dir)
        hook.run("restore", *options, timeout=RESTORE_TIMEOUT)
        (node.data_dir / "standby.signal").unlink(missing_ok=True)  # a fence's: recovery must end
        if held is not None:
            return_wal(self.programs, node, held)
        write_identity(self.programs, node, self._identity(node))
        self.fence_marker(node).unlink(missing_ok=True)
        self.programs.start(node, timeout=RESTORE_TIMEOUT)
        wait_for(lambda: self.role(node) == "primary", RESTORE_TIMEOUT, f"{node.name} writable after restore")

    def rebuild_replica(self, node: Node, source: Node) -> None:
        """Replace the node's folder by a copy of ``source`` (pg_basebackup -R); wait until it streams."""
        if node == source:
            raise DatabaseNodeError(f"cannot rebuild {node.name} from itself")
        if self.role(source) != "primary":
            raise DatabaseNodeError(
                f"{source.name} is {self.role(source)}: a replica is rebuilt from the primary"
            )
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
        shutil.rmtree(node.data_dir, ignore_errors=True)
        self.programs.run(
            "pg_basebackup",
            f"--host={self.programs.socket_dir}",
            f"--port={source.port}",
            f"--username={self.programs.os_user or 'postgres'}",
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
        self.fence_marker(node).unlink(missing_ok=True)
        self.programs.start(node)
        wait_for(lambda: self.streaming(node), STREAM_TIMEOUT, f"{node.name} streaming from {source.name}")

    def streaming(self, node: Node) -> bool:
        """Tell whether the node's WAL receiver streams from a primary."""
        with self.programs.connect(node) as conn:
            row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        return bool(row and row[0] == "streaming")
