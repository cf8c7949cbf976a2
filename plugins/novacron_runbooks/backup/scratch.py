"""The scratch PostgreSQL instance a test restore goes into: restore, start, check, and remove it again.

Safety first, because tearing down means deleting a data folder: the folder is only ever removed when the
marker file beside it (``<scratch_dir>.novacron-scratch``) says this code created it, and a folder holding a
database without that marker is refused. The restored copy keeps nothing of the primary's identity that could
hurt production: WAL archiving is off (pgBackRest's ``--archive-mode=off``), and its port and socket folder
are the scratch ones, appended to ``postgresql.auto.conf`` (read last, so they win over the copied settings).
Programs run as the database's OS user with argv lists, never through a shell.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from novacron_runbooks.backup.database import connect_socket
from novacron_runbooks.hooks.pgbackrest import as_os_user

if TYPE_CHECKING:
    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook, PgBackRestSettings

MARKER_SUFFIX = ".novacron-scratch"
LISTEN_ADDRESS = "127.0.0.1"
OUTPUT_LINES = 12


class ScratchError(RuntimeError):
    """The scratch instance could not be prepared, started or checked; the message says which and why."""


@dataclass(frozen=True)
class Scratch:
    """Where the test restore lives: data folder, port, socket folder, and who runs it."""

    data_dir: Path
    port: int
    socket_dir: str
    os_user: str | None
    pg_bindir: str

    @classmethod
    def from_settings(cls, settings: PgBackRestSettings) -> Scratch:
        missing = [
            key
            for key, value in (
                ("scratch_dir", settings.scratch_dir),
                ("scratch_port", settings.scratch_port),
                ("pg_bindir", settings.pg_bindir),
                ("pg_socket_dir", settings.pg_socket_dir),
            )
            if not value
        ]
        if missing:
            raise ScratchError(f"pgBackRest connection: extra {', '.join(missing)} needed for a test restore")
        assert settings.scratch_port is not None
        return cls(
            Path(settings.scratch_dir),
            settings.scratch_port,
            settings.pg_socket_dir,
            settings.os_user,
            settings.pg_bindir,
        )

    @property
    def marker(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + MARKER_SUFFIX)

    @property
    def log_file(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def _run(self, program: str, *args: str, what: str, timeout: float = 300) -> str:
        argv = as_os_user([str(Path(self.pg_bindir) / program), *args], self.os_user)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-OUTPUT_LINES:]
            raise ScratchError(f"{what} failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
        return proc.stdout

    def _own(self, path: Path) -> None:
        if self.os_user and os.geteuid() == 0:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        argv = as_os_user(
            [str(Path(self.pg_bindir) / "pg_ctl"), "status", "-D", str(self.data_dir)], self.os_user
        )
        return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode == 0

    def check_ours(self) -> None:
        """Refuse a scratch folder that holds a database this code did not create (never delete it)."""
        if (self.data_dir / "PG_VERSION").exists() and not self.marker.exists():
            raise ScratchError(
                f"{self.data_dir} holds a database that no test restore created (no {self.marker.name}); "
                "refusing to touch it: fix the connection's scratch_dir"
            )

    def remove(self) -> list[str]:
        """Stop the instance and delete its folder, log and marker; return what was done (idempotent)."""
        self.check_ours()
        done = []
        if self.running():
            self._run(
                "pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "60", what="stop"
            )
            done.append("stopped")
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
            done.append(f"removed {self.data_dir}")
        self.log_file.unlink(missing_ok=True)
        self.marker.unlink(missing_ok=True)
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
        point-in-time restore gets the same safety as the test restore.
        """
        self.check_ours()
        if self.data_dir.exists():
            raise ScratchError(f"{self.data_dir} still exists: the previous test restore was not removed")
        self.marker.write_text("created by a restore into scratch; removed with the scratch copy\n")
        if target_time is None:
            point = ["--type=immediate"]
        else:
            # a timestamp with its offset, as recovery_target_time parses it; built from a datetime, no text
            at = target_time.astimezone(UTC).isoformat(sep=" ")
            point = ["--type=time", f"--target={at}"] + ([] if inclusive else ["--target-exclusive"])
        hook.run(
            "restore",
            f"--pg1-path={self.data_dir}",
            f"--set={label}",
            *point,
            "--target-action=promote",
            "--archive-mode=off",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": f"'{LISTEN_ADDRESS}'",
            "unix_socket_directories": "'" + self.socket_dir.replace("'", "''") + "'",
            "cluster_name": "'novacron-scratch'",
        }
        with (self.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write("\n# test restore: the scratch instance's own port and sockets\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self, timeout: float = 300) -> None:
        """Start PostgreSQL and wait until recovery has ended and it accepts writes."""
        self.log_file.touch()
        self._own(self.log_file)
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
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
        return connect_socket(self.socket_dir, self.port, self.os_user or "postgres", dbname)

    def amcheck(self) -> str:
        """``pg_amcheck --all --heapallindexed``: heap and B-tree checks of every database of the copy."""
        return self._run(
            "pg_amcheck",
            f"--host={self.socket_dir}",
            f"--port={self.port}",
            f"--username={self.os_user or 'postgres'}",
            "--all",
            "--install-missing",
            "--heapallindexed",
            what="pg_amcheck",
            timeout=3600,
        )
