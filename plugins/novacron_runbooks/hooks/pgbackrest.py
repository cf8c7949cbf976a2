"""pgBackRest in its dedicated-repository-host topology, driven over SSH, and the database hosts it knows.

pgBackRest has no API; its CLI is the interface (``info --output=json`` is its machine-readable form). The
repository belongs to the backup host: ``backup``, ``check``, ``verify``, ``expire`` and ``info`` run there
(its pgbackrest.conf reaches each database host's ``pgbackrest server`` with ``pgN-host-type=tls``). A
restore runs on the host whose folder it fills (:meth:`PgBackRestHook.restore`), with that host's config,
which reaches the repository host's server over TLS. Both go through :mod:`novacron_runbooks.hooks.node`,
so the worker never touches a data folder or the repository itself.

Connection ``novacron_pgbackrest`` (conn type ``generic``), extras:

- ``stanza``; ``repository``: ``{"ssh_conn_id", "config"}`` (the repository host and its pgbackrest.conf);
- ``nodes``: each database host, ``{"name", "ssh_conn_id", "host", "port", "data_dir", "socket_dir",
  "config", "log_file"}`` (paths are on that host; ``host``/``port`` are where clients reach PostgreSQL);
- ``scratch``: where validation restores go, ``{"ssh_conn_id", "data_dir", "port", "socket_dir",
  "config", "host"}`` (``host``: the address the copy listens on, default its SSH connection's host);
- ``pg_bindir``: PostgreSQL's programs on the database hosts (pg_ctl, pg_basebackup, pg_amcheck);
- ``replication``: ``{"user", "passfile"}``, how a rebuilt replica's pg_basebackup logs in to the primary
  (the passfile is on the database hosts); ``replication_slot``;
- ``timeout`` (seconds, default 1800) bounds each command; ``cipher_type`` (default ``aes-256-cbc``).

Repository encryption: the connection's **password** is the repository cipher passphrase. It reaches
pgBackRest on the repository host as ``PGBACKREST_REPO1_CIPHER_PASS`` / ``PGBACKREST_REPO1_CIPHER_TYPE`` in
the SSH session's environment (the host's sshd must ``AcceptEnv`` them), never on the command line, and is
never logged. Leave the password empty to keep the options in the repository host's pgbackrest.conf.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections
from novacron_runbooks.hooks.node import HostShell, shell

DEFAULT_TIMEOUT_SECONDS = 1800.0
DEFAULT_CIPHER = "aes-256-cbc"
DEFAULT_SLOT = "novacron_replica"
PROGRAM = "pgbackrest"


class PgBackRestError(RuntimeError):
    """A pgBackRest command failed; the message carries the host, its exit code and the end of its output."""

    def __init__(self, command: str, returncode: int, output: str, host: str = "") -> None:
        self.command = command
        self.returncode = returncode
        self.output = output
        self.host = host
        tail = "\n  ".join(output.strip().splitlines()[-15:])
        where = f" on {host}" if host else ""
        super().__init__(f"pgbackrest {command}{where} failed (exit {returncode}):\n  {tail}")


@dataclass(frozen=True)
class Node:
    """One PostgreSQL node and its host: roles move between nodes, so the name says nothing of a role.

    ``data_dir``, ``socket_dir``, ``config`` and ``log_file`` are paths on the node's own host;
    ``host``/``port`` are where clients reach PostgreSQL (empty host: the database connection's).
    """

    name: str
    ssh_conn_id: str
    port: int
    data_dir: str
    socket_dir: str
    config: str
    host: str = ""
    log_file: str = ""

    @property
    def fence_marker(self) -> str:
        return self.data_dir.rstrip("/") + ".novacron-fenced"

    @property
    def runbook_log(self) -> str:
        """The log ``pg_ctl start`` writes when a runbook starts the node."""
        return self.log_file or self.data_dir.rstrip("/") + ".runbook.log"


@dataclass(frozen=True)
class ScratchPlace:
    """Where validation restores go: a host, a data folder that only restores fill, a port of its own."""

    ssh_conn_id: str
    data_dir: str
    port: int
    socket_dir: str
    config: str
    host: str = ""


@dataclass(frozen=True)
class PgBackRestSettings:
    """What the connection says about the repository and the hosts; the passphrase stays out of repr."""

    stanza: str
    repository_conn_id: str
    repository_config: str
    pg_bindir: str = ""
    nodes: tuple[Node, ...] = ()
    scratch: ScratchPlace | None = None
    replication_user: str = ""
    replication_passfile: str = ""
    replication_slot: str = DEFAULT_SLOT
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    cipher_type: str | None = None
    cipher_pass: str | None = field(default=None, repr=False)

    @classmethod
    def from_extra(cls, extra: dict[str, Any], password: str | None) -> PgBackRestSettings:
        where = f"pgBackRest connection {connections.PGBACKREST}"
        repository = extra.get("repository")
        if not extra.get("stanza"):
            raise ValueError(f"{where}: extra 'stanza' is required")
        if (
            not isinstance(repository, dict)
            or not repository.get("ssh_conn_id")
            or not repository.get("config")
        ):
            raise ValueError(f"{where}: extra 'repository' needs ssh_conn_id and config")
        replication = extra.get("replication") or {}
        return cls(
            stanza=str(extra["stanza"]),
            repository_conn_id=str(repository["ssh_conn_id"]),
            repository_config=str(repository["config"]),
            pg_bindir=str(extra.get("pg_bindir") or ""),
            nodes=tuple(_node(raw, where) for raw in extra.get("nodes") or []),
            scratch=_scratch(extra.get("scratch"), where),
            replication_user=str(replication.get("user") or ""),
            replication_passfile=str(replication.get("passfile") or ""),
            replication_slot=str(extra.get("replication_slot") or DEFAULT_SLOT),
            timeout=float(extra.get("timeout") or DEFAULT_TIMEOUT_SECONDS),
            cipher_type=(extra.get("cipher_type") or DEFAULT_CIPHER) if password else None,
            cipher_pass=password or None,
        )


def _node(raw: Any, where: str) -> Node:
    try:
        return Node(
            name=str(raw["name"]),
            ssh_conn_id=str(raw["ssh_conn_id"]),
            port=int(raw["port"]),
            data_dir=str(raw["data_dir"]),
            socket_dir=str(raw["socket_dir"]),
            config=str(raw["config"]),
            host=str(raw.get("host") or ""),
            log_file=str(raw.get("log_file") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: each of 'nodes' needs name, ssh_conn_id, port, data_dir, socket_dir and config ({exc})"
        ) from exc


def _scratch(raw: Any, where: str) -> ScratchPlace | None:
    if not raw:
        return None
    try:
        return ScratchPlace(
            ssh_conn_id=str(raw["ssh_conn_id"]),
            data_dir=str(raw["data_dir"]),
            port=int(raw["port"]),
            socket_dir=str(raw["socket_dir"]),
            config=str(raw["config"]),
            host=str(raw.get("host") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: 'scratch' needs ssh_conn_id, data_dir, port, socket_dir and config ({exc})"
        ) from exc


def command_argv(config: str, stanza: str | None, command: str, options: tuple[str, ...]) -> list[str]:
    """``pgbackrest --config=.. [--stanza=..] <flags> <command> <positional>`` as an argv list."""
    argv = [PROGRAM, f"--config={config}"]
    argv += [f"--stanza={stanza}"] if stanza else []
    argv += [option for option in options if option.startswith("--")]
    return [*argv, command, *(option for option in options if not option.startswith("--"))]


class PgBackRestHook(BaseHook):
    """Run pgBackRest commands for one stanza on the host each belongs to; keeps no per-run state.

    :param pgbackrest_conn_id: connection naming the repository host, the nodes and the stanza.
    """

    conn_name_attr = "pgbackrest_conn_id"
    default_conn_name = connections.PGBACKREST
    conn_type = "generic"
    hook_name = "pgBackRest"

    def __init__(self, pgbackrest_conn_id: str = connections.PGBACKREST) -> None:
        super().__init__()
        self.pgbackrest_conn_id = pgbackrest_conn_id

    def settings(self) -> PgBackRestSettings:
        conn = self.get_connection(self.pgbackrest_conn_id)
        return PgBackRestSettings.from_extra(conn.extra_dejson, conn.password)

    def environment(self, settings: PgBackRestSettings) -> dict[str, str]:
        """Return the cipher options for the repository host's session when the repository is encrypted."""
        if not settings.cipher_pass:
            return {}
        return {
            "PGBACKREST_REPO1_CIPHER_TYPE": settings.cipher_type or DEFAULT_CIPHER,
            "PGBACKREST_REPO1_CIPHER_PASS": settings.cipher_pass,
        }

    def _run_on(
        self,
        found: PgBackRestSettings,
        host: HostShell,
        config: str,
        command: str,
        options: tuple[str, ...],
        *,
        timeout: float | None,
        stanza: bool,
        env: dict[str, str],
    ) -> str:
        argv = command_argv(config, found.stanza if stanza else None, command, options)
        self.log.info("running pgbackrest %s %s on %s", command, " ".join(options), host.name)
        done = host.execute(argv, timeout=timeout or found.timeout, env=env or None)
        if done.status != 0:
            raise PgBackRestError(command, done.status, done.stderr + done.stdout, host.name)
        return done.stdout

    def run(self, command: str, *options: str, timeout: float | None = None, stanza: bool = True) -> str:
        """Run ``pgbackrest <command> <options>`` on the repository host; return stdout or raise.

        Options are separate argv items such as ``--type=full`` (anything not starting with ``--`` is a
        positional argument and follows the command); callers validate any value they take from params,
        and the remote shell sees them quoted. ``stanza=False`` is for the repository commands that refuse
        the option (``repo-ls``, ``repo-get``).
        """
        found = self.settings()
        host = shell(found.repository_conn_id, "repository host")
        return self._run_on(
            found,
            host,
            found.repository_config,
            command,
            options,
            timeout=timeout,
            stanza=stanza,
            env=self.environment(found),
        )

    def restore(self, ssh_conn_id: str, config: str, *options: str, timeout: float | None = None) -> str:
        """``pgbackrest restore`` on the host whose folder it fills, with that host's own config."""
        found = self.settings()
        host = shell(ssh_conn_id)
        return self._run_on(found, host, config, "restore", options, timeout=timeout, stanza=True, env={})

    def info(self) -> dict[str, Any]:
        """``pgbackrest info --output=json`` of the stanza (empty when the repository has none)."""
        # strict=False: an unreadable info file's error message quotes its raw bytes, control characters too
        stanzas = json.loads(self.run("info", "--output=json", timeout=120) or "[]", strict=False)
        return dict(stanzas[0]) if stanzas else {}

    def test_connection(self) -> tuple[bool, str]:
        try:
            stanza = self.info()
        except Exception as exc:  # noqa: BLE001 - the UI shows the reason
            return False, str(exc)
        status = stanza.get("status", {})
        return status.get("code") == 0, str(status.get("message", "no stanza"))
