"""pgBackRest through its command line, as the database's OS user, with argv lists and a timeout.

pgBackRest has no API; its CLI is the interface (``info --output=json`` is its machine-readable form). Every
call is an argv list (never shell text), run as the connection's ``os_user`` when we are root, as the sandbox
does with ``runuser``, because pgBackRest must read the data folder and the repository that user owns.

Connection (conn type ``generic``, default ``novacron_pgbackrest``), extras:

- ``config``: the pgbackrest.conf to use; ``stanza``: the stanza; ``os_user``: who runs pgBackRest;
- ``pg_bindir``: PostgreSQL's programs (pg_ctl, pg_amcheck); ``pg_socket_dir``: where clusters put sockets;
- ``scratch_port``, ``scratch_dir``: where validation restores go;
- ``nodes``: the database nodes (``name``, ``host``, ``data_dir``, ``port``), read by
  ``novacron_runbooks.database.nodes``;
- ``timeout`` (seconds, default 1800) bounds each command;
- ``cipher_type`` (default ``aes-256-cbc`` when a password is set).

Repository encryption: the connection's **password** is the repository cipher passphrase. It reaches
pgBackRest as ``PGBACKREST_REPO1_CIPHER_PASS`` / ``PGBACKREST_REPO1_CIPHER_TYPE`` in the environment, never on
the command line (argv is visible to every user in ``ps``), and is never logged. Leave the password empty for
an unencrypted repository, or keep the options in pgbackrest.conf instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections

DEFAULT_TIMEOUT_SECONDS = 1800.0
DEFAULT_CIPHER = "aes-256-cbc"
OUTPUT_LINES = 15


class PgBackRestError(RuntimeError):
    """A pgBackRest command failed; the message carries its exit code and the end of its output."""

    def __init__(self, command: str, returncode: int, output: str) -> None:
        self.command = command
        self.returncode = returncode
        self.output = output
        tail = "\n  ".join(output.strip().splitlines()[-OUTPUT_LINES:])
        super().__init__(f"pgbackrest {command} failed (exit {returncode}):\n  {tail}")


@dataclass(frozen=True)
class PgBackRestSettings:
    """What the connection says about the repository and the clusters; the passphrase stays out of repr."""

    config: str
    stanza: str
    os_user: str | None = None
    pg_bindir: str = ""
    pg_socket_dir: str = ""
    scratch_port: int | None = None
    scratch_dir: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    cipher_type: str | None = None
    cipher_pass: str | None = field(default=None, repr=False)

    @classmethod
    def from_extra(cls, extra: dict[str, Any], password: str | None) -> PgBackRestSettings:
        for key in ("config", "stanza"):
            if not extra.get(key):
                raise ValueError(f"pgBackRest connection: extra {key!r} is required")
        port = extra.get("scratch_port")
        return cls(
            config=str(extra["config"]),
            stanza=str(extra["stanza"]),
            os_user=extra.get("os_user") or None,
            pg_bindir=str(extra.get("pg_bindir") or ""),
            pg_socket_dir=str(extra.get("pg_socket_dir") or ""),
            scratch_port=int(port) if port is not None else None,
            scratch_dir=str(extra.get("scratch_dir") or ""),
            timeout=float(extra.get("timeout") or DEFAULT_TIMEOUT_SECONDS),
            cipher_type=(extra.get("cipher_type") or DEFAULT_CIPHER) if password else None,
            cipher_pass=password or None,
        )


def as_os_user(argv: list[str], os_user: str | None) -> list[str]:
    """Prefix ``argv`` with ``runuser`` when we are root and the programs must run as ``os_user``."""
    if os_user and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("runuser (util-linux) is needed to run pgBackRest as " + os_user)
        return [runuser, "-u", os_user, "--", *argv]
    return argv


class PgBackRestHook(BaseHook):
    """Run pgBackRest commands for one stanza; keeps no per-run state.

    :param pgbackrest_conn_id: connection naming the config, stanza and OS user (see the module doc).
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
        """Return the process environment plus the cipher options when the repository is encrypted."""
        env = dict(os.environ)
        if settings.cipher_pass:
            env["PGBACKREST_REPO1_CIPHER_TYPE"] = settings.cipher_type or DEFAULT_CIPHER
            env["PGBACKREST_REPO1_CIPHER_PASS"] = settings.cipher_pass
        return env

    def run(self, command: str, *options: str, timeout: float | None = None, stanza: bool = True) -> str:
        """Run ``pgbackrest <command> <options>`` for the stanza; return stdout or raise PgBackRestError.

        Options are separate argv items such as ``--type=full`` (anything not starting with ``--`` is a
        positional argument and follows the command); callers validate any value they take
        from params, and nothing passes through a shell. ``stanza=False`` is for the repository commands
        that refuse the option (``repo-ls``, ``repo-get``).
        """
        found = self.settings()
        program = shutil.which("pgbackrest") or "pgbackrest"
        argv = [program, f"--config={found.config}"]
        argv += [f"--stanza={found.stanza}"] if stanza else []
        flags = [option for option in options if option.startswith("--")]
        argv += [*flags, command, *(option for option in options if not option.startswith("--"))]
        self.log.info("running pgbackrest %s %s", command, " ".join(options))
        try:
            proc = subprocess.run(
                as_os_user(argv, found.os_user),
                capture_output=True,
                text=True,
                errors="replace",  # an error about an encrypted file can quote its bytes
                timeout=timeout or found.timeout,
                check=False,
                env=self.environment(found),
            )
        except subprocess.TimeoutExpired as exc:
            raise PgBackRestError(command, -1, f"timed out after {exc.timeout} s") from exc
        if proc.returncode != 0:
            raise PgBackRestError(command, proc.returncode, proc.stderr + proc.stdout)
        return proc.stdout

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
