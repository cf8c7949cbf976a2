"""The sandbox's PostgreSQL 15 primary and its streaming replica, created with initdb in the work folder.

Both clusters run as the ``postgres`` user (PostgreSQL refuses root), listen on 127.0.0.1 only and keep their
Unix sockets inside our own folder, never in /var/run, so a system PostgreSQL is never touched. Local socket
connections are trusted (the sandbox drives the clusters through them); TCP needs the ``novacron`` password,
as in production.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from sandbox.layout import HOST
from sandbox.processes import SandboxError, is_alive
from sandbox.tools import PG_USER, chown_pg, find_tools, run_pg

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

DB_NAME = "novacron"
APP_ROLE = "novacron"
STANZA = "novacron"
REPLICATION_SLOT = "novacron_replica"
ADMIN_ROLE = "novacron_admin"
REPLICATION_ROLE = "novacron_replication"
# Unix socket paths are limited to 107 bytes by sockaddr_un.
_MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class Cluster:
    """One PostgreSQL cluster of the sandbox: its component name, data folder and port."""

    name: str
    data_dir: Path
    port: int
    socket_dir: Path
    log_file: Path

    def running_pid(self) -> int | None:
        """Return the postmaster's pid from ``postmaster.pid`` when it is alive."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def connect(self, dbname: str = "postgres", user: str = PG_USER) -> psycopg.Connection[Any]:
        """Open a socket connection (trusted locally) with autocommit, for setup and health checks."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=user,
            dbname=dbname,
            autocommit=True,
            connect_timeout=3,
        )


def _cluster(layout: Layout, name: str, folder: str) -> Cluster:
    return Cluster(
        name,
        layout.pg_dir / folder,
        layout.port(name),
        layout.pg_dir / "sockets",
        layout.log_dir / f"{name}.log",
    )


def primary(layout: Layout) -> Cluster:
    return _cluster(layout, "pg_primary", "primary")


def replica(layout: Layout) -> Cluster:
    return _cluster(layout, "pg_replica", "replica")


def writable(layout: Layout) -> Cluster:
    """Return the cluster accepting writes: the primary folder's, or the replica folder's after a failover.

    Runbooks move the primary role between the two folders (``dr_database_failure``); what the sandbox does
    to "the primary" (roles, seed, exporter, health) follows the role, not the folder. When neither answers
    as a primary, the primary folder's cluster is returned, so checks report it down.
    """
    for cluster in (primary(layout), replica(layout)):
        if cluster.running_pid() is None:
            continue
        try:
            with cluster.connect() as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            continue
        if row is not None and not row[0]:
            return cluster
    return primary(layout)


def standby(layout: Layout) -> Cluster:
    """Return the other cluster than :func:`writable` (the one meant to stream from it)."""
    return primary(layout) if writable(layout) == replica(layout) else replica(layout)


def failed_over(layout: Layout) -> bool:
    """Tell whether a failover left the primary folder a standby (fenced or rebuilt: ``standby.signal``)."""
    return (primary(layout).data_dir / "standby.signal").exists()


def scratch(layout: Layout) -> Cluster:
    """Where runbooks restore backups for validation (the sandbox never starts it, but stop stops it)."""
    return _cluster(layout, "pg_scratch", "scratch")


def host_name(layout: Layout, cluster: Cluster) -> str:
    """Name the database host a data folder lives on: pg-a the primary folder, pg-b the replica's."""
    return "pg-a" if cluster.data_dir == primary(layout).data_dir else "pg-b"


def pgbackrest_conf(layout: Layout, cluster: Cluster) -> Path:
    """Return the pgbackrest.conf of the cluster's own host (``sandbox.pgbackrest`` writes them)."""
    return layout.pg_dir / "pgbackrest" / f"{host_name(layout, cluster)}.conf"


def admin_password(layout: Layout) -> str:
    """Return the operations role's password (``novacron_admin``, superuser over TCP), generated once."""
    return layout.secret_file("novacron_admin_password", lambda: secrets.token_hex(16)).read_text().strip()


def replication_password(layout: Layout) -> str:
    return (
        layout.secret_file("novacron_replication_password", lambda: secrets.token_hex(16)).read_text().strip()
    )


def passfile(layout: Layout) -> Path:
    """Return the database hosts' passfile: how a rebuilt replica's pg_basebackup logs in to the primary."""
    return layout.pg_dir / "pgpass"


def app_password(layout: Layout) -> str:
    """Return the ``novacron`` role's password: generated once per sandbox, kept in a 0600 file."""
    return layout.secret_file("novacron_db_password", lambda: secrets.token_hex(16)).read_text().strip()


def app_dsn(layout: Layout, cluster: Cluster | None = None) -> str:
    """libpq URL of ``cluster`` (default the primary) as the application role, over TCP like the app."""
    port = (cluster or primary(layout)).port
    return f"postgresql://{APP_ROLE}:{app_password(layout)}@{HOST}:{port}/{DB_NAME}"


def write_passfile(layout: Layout) -> None:
    """Write the replication role's password for the database hosts (postgres-owned, 0600, as libpq wants)."""
    path = passfile(layout)
    secret = replication_password(layout)
    path.write_text(
        f"{HOST}:*:replication:{REPLICATION_ROLE}:{secret}\n{HOST}:*:*:{REPLICATION_ROLE}:{secret}\n"
    )
    path.chmod(0o600)
    chown_pg(path)


def prepare_dirs(layout: Layout) -> None:
    """Create the postgres-owned folders; fail early when that user cannot reach the sandbox root."""
    sockets = primary(layout).socket_dir
    if len(str(sockets / ".s.PGSQL.00000.lock")) > _MAX_SOCKET_PATH:
        raise SandboxError(f"sandbox folder {layout.root} is too long for a Unix socket path")
    for folder in (layout.pg_dir, sockets, layout.pg_dir / "pgbackrest", layout.log_dir / "pgbackrest"):
        folder.mkdir(parents=True, exist_ok=True)
        chown_pg(folder)
    layout.pg_dir.chmod(0o700)
    try:
        run_pg(["test", "-w", str(layout.pg_dir)], "access check")
    except SandboxError:
        raise SandboxError(
            f"the {PG_USER} user cannot write {layout.pg_dir}: make the parent folders of {layout.root} "
            "traversable (chmod o+x) or set NOVACRON_SANDBOX_DIR to a folder it can reach"
        ) from None
    write_passfile(layout)


def _guc(value: str) -> str:
    """Quote ``value`` as a postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def write_settings(layout: Layout, cluster: Cluster) -> None:
    """``sandbox.conf``, included from postgresql.conf: the settings that differ per cluster live here."""
    tools = find_tools()
    # each host's own config names its own folder as pg1-path and reaches the repository host over TLS
    conf = shlex.quote(str(pgbackrest_conf(layout, cluster)))
    pgbackrest = f"{shlex.quote(tools['pgbackrest'])} --config={conf} --stanza={STANZA}"
    settings = {
        "listen_addresses": _guc(HOST),
        "port": str(cluster.port),
        "unix_socket_directories": _guc(str(cluster.socket_dir)),
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": _guc(f"{pgbackrest} archive-push %p"),
        "restore_command": _guc(f'{pgbackrest} archive-get %f "%p"'),
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "hot_standby": "on",
        "hot_standby_feedback": "on",
        "shared_preload_libraries": _guc("pg_stat_statements"),
        "pg_stat_statements.track": "all",
        "track_io_timing": "on",
        "shared_buffers": _guc("64MB"),
        "max_wal_size": _guc("512MB"),
        "log_line_prefix": _guc("%m [%p] %q%u@%d "),
        "log_min_duration_statement": "1000",
    }
    text = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path = cluster.data_dir / "sandbox.conf"
    path.write_text("# Written by `python -m sandbox start`; edits are overwritten.\n" + text)
    chown_pg(path)


def init_primary(layout: Layout) -> None:
    """initdb with data checksums (the corruption runbook relies on them), then our settings."""
    cluster = primary(layout)
    run_pg(
        [
            find_tools().pg("initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            PG_USER,
            "--data-checksums",
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        "initdb of the primary",
    )
    with (cluster.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude_if_exists = 'sandbox.conf'\n")
    write_settings(layout, cluster)


def init_replica(layout: Layout) -> None:
    """pg_basebackup -R from the primary through a fresh physical slot, then the replica's own settings."""
    source, cluster = primary(layout), replica(layout)
    if cluster.data_dir.exists():
        shutil.rmtree(cluster.data_dir)  # a half-made copy from an interrupted start
    with source.connect() as conn:  # a slot left by a replica we no longer have would pin WAL forever
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
            (REPLICATION_SLOT,),
        )
    basebackup = [find_tools().pg("pg_basebackup"), "-h", str(source.socket_dir), "-p", str(source.port)]
    basebackup += ["-U", PG_USER, "-D", str(cluster.data_dir), "-R", "-X", "stream", "--checkpoint=fast"]
    try:
        run_pg([*basebackup, "-C", "-S", REPLICATION_SLOT], "pg_basebackup for the replica")
    except SandboxError:
        shutil.rmtree(cluster.data_dir, ignore_errors=True)  # never leave a copy that looks usable
        raise
    write_settings(layout, cluster)


def start(cluster: Cluster) -> None:
    """pg_ctl start, waiting until it accepts connections."""
    cluster.log_file.parent.mkdir(parents=True, exist_ok=True)
    cluster.log_file.touch()
    chown_pg(cluster.log_file)
    run_pg(
        [
            find_tools().pg("pg_ctl"),
            "start",
            "-D",
            str(cluster.data_dir),
            "-l",
            str(cluster.log_file),
            "-w",
            "-t",
            "120",
            "-s",
        ],
        f"{cluster.name}: pg_ctl start (see {cluster.log_file})",
        timeout=180,
    )


def stop(cluster: Cluster) -> bool:
    """pg_ctl stop -m fast (immediate when fast hangs); returns whether it was running."""
    if cluster.running_pid() is None:
        return False
    pg_ctl = find_tools().pg("pg_ctl")
    try:
        run_pg(
            [pg_ctl, "stop", "-D", str(cluster.data_dir), "-m", "fast", "-w", "-t", "30", "-s"],
            f"{cluster.name}: pg_ctl stop",
            timeout=60,
        )
    except SandboxError:
        run_pg(
            [pg_ctl, "stop", "-D", str(cluster.data_dir), "-m", "immediate", "-w", "-t", "30", "-s"],
            f"{cluster.name}: pg_ctl stop -m immediate",
            timeout=60,
        )
    return True


def setup_database(layout: Layout) -> None:
    """Role ``novacron`` (password for TCP) owning database ``novacron``, with the extensions runbooks use."""
    with writable(layout).connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(APP_ROLE)))
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(app_password(layout))
            )
        )
        # What an SRE operations role needs: read every stat view, signal backends, checkpoint, promote.
        conn.execute(
            sql.SQL("GRANT pg_monitor, pg_signal_backend, pg_checkpoint TO {}").format(
                sql.Identifier(APP_ROLE)
            )
        )
        conn.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO {}").format(
                sql.Identifier(APP_ROLE)
            )
        )
        for role, password, attributes in (
            (ADMIN_ROLE, admin_password(layout), "SUPERUSER"),
            (REPLICATION_ROLE, replication_password(layout), "REPLICATION"),
        ):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN " + attributes).format(sql.Identifier(role)))
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DB_NAME), sql.Identifier(APP_ROLE)
                )
            )
    with writable(layout).connect(DB_NAME) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
