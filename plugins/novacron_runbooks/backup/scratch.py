"""The scratch PostgreSQL instance a test restore goes into: restore, start, check, and remove it again.

Safety first, because tearing down means deleting a data folder: the folder is only ever removed when the
marker file beside it (``<data_dir>.novacron-scratch``) says this code created it, and a folder holding a
database without that marker is refused. The restored copy keeps nothing of the primary's identity that could
hurt production: WAL archiving is off (pgBackRest's ``--archive-mode=off``), and its port and socket folder
are the scratch ones, appended to ``postgresql.auto.conf`` (read last, so they win over the copied settings).
The instance lives on the host the connection's ``scratch`` entry names: every program and file there is
reached through that host's SSH connection, as the database's OS user it logs in as; SQL goes over TCP.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from novacron_runbooks.database.postgres import postmaster_runs, quote_guc
from novacron_runbooks.hooks.database import connect_node
from novacron_runbooks.hooks.node import HostError, HostShell, shell

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook, PgBackRestSettings

MARKER_SUFFIX = ".novacron-scratch"


class ScratchError(RuntimeError):
    """The scratch instance could not be prepared, started or checked; the message says which and why."""


@dataclass(frozen=True)
class Scratch:
    """Where the test restore lives: its host, data folder, port, socket folder and pgbackrest.conf."""

    ssh_conn_id: str
    data_dir: str
    port: int
    socket_dir: str
    config: str
    pg_bindir: str
    host_address: str = ""

    @classmethod
    def from_settings(cls, settings: PgBackRestSettings) -> Scratch:
        place = settings.scratch
        if place is None or not settings.pg_bindir:
            missing = [
                name for name, value in (("scratch", place), ("pg_bindir", settings.pg_bindir)) if not value
            ]
            raise ScratchError(f"pgBackRest connection: extra {', '.join(missing)} needed for a test restore")
        return cls(
            place.ssh_conn_id,
            place.data_dir,
            place.port,
            place.socket_dir,
            place.config,
            settings.pg_bindir,
            place.host,
        )

    @property
    def marker(self) -> str:
        return self.data_dir.rstrip("/") + MARKER_SUFFIX

    @property
    def log_file(self) -> str:
        return self.data_dir.rstrip("/") + ".log"

    @property
    def address(self) -> str:
        """Where the copy listens and clients reach it: the entry's host, else its SSH connection's."""
        return self.host_address or str(BaseHook.get_connection(self.ssh_conn_id).host)

    def host(self) -> HostShell:
        return shell(self.ssh_conn_id, "scratch host")

    def _run(
        self, program: str, *args: str, what: str, timeout: float = 300, ok: tuple[int, ...] = (0,)
    ) -> str:
        try:
            return self.host().run(
                [posixpath.join(self.pg_bindir, program), *args], what=what, timeout=timeout, ok=ok
            )
        except HostError as exc:
            raise ScratchError(str(exc)) from exc

    def running(self) -> bool:
        try:
            return postmaster_runs(self.host(), self.pg_bindir, self.data_dir)
        except HostError as exc:
            raise ScratchError(str(exc)) from exc

    def check_ours(self) -> None:
        """Refuse a scratch folder that holds a database this code did not create (never delete it)."""
        host = self.host()
        if host.exists(posixpath.join(self.data_dir, "PG_VERSION")) and not host.exists(self.marker):
            raise ScratchError(
                f"{self.data_dir} holds a database that no test restore created "
                f"(no {posixpath.basename(self.marker)}); refusing to touch it: fix the connection's scratch"
            )

    def remove(self) -> list[str]:
        """Stop the instance and delete its folder, log and marker; return what was done (idempotent)."""
        self.check_ours()
        host = self.host()
        done = []
        if self.running():
            self._run("pg_ctl", "stop", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "60", what="stop")
            done.append("stopped")
        if host.exists(self.data_dir):
            host.run(["rm", "-rf", "--", self.data_dir], what=f"remove {self.data_dir}", timeout=600)
            done.append(f"removed {self.data_dir}")
        host.remove(self.log_file)
        host.remove(self.marker)
        return done

    def restore(
        self,
        hook: PgBackRestHook,
        label: str,
        target_time: datetime | None = None,
        *,
        inclusive: bool = True,
    ) -> None:
        """Restore backup ``label`` into the empty folder, WAL archiving off, then promote.

        Without ``target_time`` recovery stops at the backup's consistent end point (``--type=immediate``);
        with it, WAL is replayed up to that moment (``--type=time``; ``inclusive=False`` stops just before a
        commit at exactly that moment, for "the moment before the damage"). One code path for both, so the
        point-in-time restore gets the same safety as the test restore. pgBackRest runs on the scratch host
        with that host's config.
        """
        self.check_ours()
        host = self.host()
        if host.exists(self.data_dir):
            raise ScratchError(f"{self.data_dir} still exists: the previous test restore was not removed")
        host.write_text(
            self.marker, "created by a restore into scratch; removed with the scratch copy\n", 0o644
        )
        if target_time is None:
            point = ["--type=immediate"]
        else:
            # a timestamp with its offset, as recovery_target_time parses it; built from a datetime, no text
            at = target_time.astimezone(UTC).isoformat(sep=" ")
            point = ["--type=time", f"--target={at}"] + ([] if inclusive else ["--target-exclusive"])
        host.run(["mkdir", "-p", "-m", "0700", self.data_dir], what=f"mkdir {self.data_dir}")
        hook.restore(
            self.ssh_conn_id,
            self.config,
            f"--pg1-path={self.data_dir}",
            f"--set={label}",
            *point,
            "--target-action=promote",
            "--archive-mode=off",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": quote_guc(self.address),
            "unix_socket_directories": quote_guc(self.socket_dir),
            "cluster_name": quote_guc("novacron-scratch"),
        }
        conf = posixpath.join(self.data_dir, "postgresql.auto.conf")
        text = host.read_text(conf) if host.exists(conf) else ""
        text += "\n# test restore: the scratch instance's own port and sockets\n"
        text += "".join(f"{key} = {value}\n" for key, value in settings.items())
        host.write_text(conf, text)

    def start(self, timeout: float = 300) -> None:
        """Start PostgreSQL and wait until recovery has ended and it accepts writes."""
        import psycopg

        self._run(
            "pg_ctl",
            "start",
            "-D",
            self.data_dir,
            "-l",
            self.log_file,
            "-w",
            "-t",
            str(int(timeout)),
            what=f"scratch start (log {self.log_file})",
            timeout=timeout + 30,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self.connect() as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and row[0] is False:
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        raise ScratchError(f"scratch instance still in recovery after {timeout:.0f} s (log {self.log_file})")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """Connect to the copy over TCP as the operations role (restored with the rest of the roles)."""
        return connect_node(self.address, self.port, dbname)

    def amcheck(self) -> str:
        """``pg_amcheck --all --heapallindexed`` on the scratch host, through its local socket."""
        return self._run(
            "pg_amcheck",
            f"--host={self.socket_dir}",
            f"--port={self.port}",
            "--all",
            "--install-missing",
            "--heapallindexed",
            what="pg_amcheck",
            timeout=3600,
        )
