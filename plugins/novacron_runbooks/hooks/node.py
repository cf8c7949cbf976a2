"""The one way a runbook runs a program or moves a file on another host: SSH, through Airflow's SSH provider.

An Airflow worker is never the database host. Every step that acts on a database host (pg_ctl, fencing,
WAL salvage, restores, pg_amcheck) or on the pgBackRest repository host goes through :class:`HostShell`,
built from that host's ``ssh`` connection. The rules it enforces, so no caller can forget them:

- **Pinned host keys.** The connection must carry the host's public key in its ``host_key`` extra, and may
  not turn the check off (``no_host_key_check``, ``allow_host_key_change``). An unknown or changed key is
  refused before any command runs (:class:`HostKeyRefused`); nothing is ever auto-added.
- **Argv, never shell text.** Commands are lists, quoted with :func:`shlex.join` for the remote shell.
- **A deadline on each command,** enforced on the host itself by coreutils' ``timeout`` (the SSH channel's
  own timeout only notices silence), so a hung program cannot hold a worker slot forever.
- **The OS user is the login.** The connection logs in as the database's OS user; no ``sudo`` or
  ``runuser`` on either side.
- **Errors name the host** and carry the tail of the program's output.

Files go over SFTP on the same SSH session: small ones (markers, ``postgresql.auto.conf``) are written to a
temporary name and renamed into place, so a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import shlex
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import paramiko
    from paramiko.sftp_client import SFTPClient

# paramiko is imported where a session opens, not here: DAG files import this module, and they must stay
# cheap to parse.

OUTPUT_LINES = 15
KILL_AFTER_SECONDS = 10
CHANNEL_SLACK_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 10
COPY_CHUNK_BYTES = 1 << 20
TIMED_OUT = 124  # coreutils timeout's exit status when the deadline passed


class HostError(RuntimeError):
    """A host could not be reached or a command on it failed; the message names the host."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        super().__init__(f"{host}: {message}")


class HostUnreachable(HostError):
    """No SSH session to the host: it is down, its sshd is, or the network is. Says nothing of PostgreSQL."""


class HostKeyRefused(HostUnreachable):
    """The host presented a key other than the pinned one, or no key is pinned: nothing was run."""


class HostCommandError(HostError):
    """A command ran on the host and failed (or timed out); carries its exit status and output tail."""

    def __init__(self, host: str, what: str, status: int, output: str) -> None:
        self.status = status
        self.output = output
        tail = "\n  ".join(output.strip().splitlines()[-OUTPUT_LINES:])
        reason = "timed out" if status == TIMED_OUT else f"failed (exit {status})"
        super().__init__(host, f"{what} {reason}:\n  {tail}")


@dataclass(frozen=True)
class Completed:
    """What a command left: its exit status and both streams, decoded."""

    status: int
    stdout: str
    stderr: str


def remote_command(argv: Sequence[str], timeout: float) -> str:
    """Return the shell text that runs ``argv`` on the host under a hard deadline of ``timeout`` seconds."""
    if not argv:
        raise ValueError("a command needs a program")
    deadline = ["timeout", "-k", str(KILL_AFTER_SECONDS), str(max(1, int(timeout)))]
    return shlex.join([*deadline, *map(str, argv)])


def pinned_key(extra: Mapping[str, Any], conn_id: str) -> paramiko.PKey:
    """Return the host key the connection pins; refuse a connection that pins none or disables the check."""
    import paramiko

    for switch in ("no_host_key_check", "allow_host_key_change"):
        if str(extra.get(switch, "false")).lower() == "true":
            raise HostKeyRefused(conn_id, f"connection sets {switch}: host keys must be pinned, not skipped")
    raw = str(extra.get("host_key") or "").split()
    if not raw:
        raise HostKeyRefused(conn_id, "connection has no host_key extra: pin the host's public key")
    key_type, key_data = (raw[0], raw[1]) if len(raw) >= 2 else ("", raw[0])
    try:
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data)) if key_type else None
    except (ValueError, paramiko.SSHException, binascii.Error) as exc:
        raise HostKeyRefused(conn_id, f"host_key extra is not a public key ({exc})") from exc
    if key is None:
        raise HostKeyRefused(conn_id, "host_key extra needs the key type too, e.g. 'ssh-ed25519 AAAA...'")
    return key


class HostShell:
    """One SSH session to one host, opened on first use and kept for the task's later commands.

    :param ssh_conn_id: the host's connection (conn type ``ssh``: host, port, login, key, pinned
        ``host_key``).
    :param name: how errors and evidence name the host (default the connection id).
    """

    def __init__(self, ssh_conn_id: str, name: str | None = None) -> None:
        self.ssh_conn_id = ssh_conn_id
        self.name = name or ssh_conn_id
        self._client: paramiko.SSHClient | None = None
        self._sftp: SFTPClient | None = None

    # -- session --------------------------------------------------------------------------------------------
    def _connect(self) -> paramiko.SSHClient:
        import paramiko
        from airflow.providers.ssh.hooks.ssh import SSHHook

        conn = BaseHook.get_connection(self.ssh_conn_id)
        expected = pinned_key(conn.extra_dejson, self.ssh_conn_id)
        hook = SSHHook(ssh_conn_id=self.ssh_conn_id, conn_retry_attempts=1)
        hook.no_host_key_check = False  # the extra was checked above; never auto-add a key
        try:
            client = hook.get_conn()
        except paramiko.BadHostKeyException as exc:
            raise HostKeyRefused(self.name, f"host key changed: {exc}") from exc
        except paramiko.SSHException as exc:
            if "known_hosts" in str(exc) or "not found in" in str(exc):
                raise HostKeyRefused(self.name, f"unknown host key: {exc}") from exc
            raise HostUnreachable(self.name, f"SSH to {hook.remote_host}:{hook.port} failed: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise HostUnreachable(self.name, f"SSH to {hook.remote_host}:{hook.port} failed: {exc}") from exc
        transport = client.get_transport()
        presented = transport.get_remote_server_key() if transport else None
        if presented is None or presented.asbytes() != expected.asbytes():
            client.close()  # belt and braces: a key from a system known_hosts file must not stand in for ours
            raise HostKeyRefused(self.name, "the host presented a key other than the pinned host_key")
        return client

    def client(self) -> paramiko.SSHClient:
        transport = self._client.get_transport() if self._client else None
        if self._client is None or transport is None or not transport.is_active():
            self._sftp = None
            self._client = self._connect()
        return self._client

    def sftp(self) -> SFTPClient:
        import paramiko

        if self._sftp is None or self._client is None or not self._client.get_transport():
            try:
                self._sftp = self.client().open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise HostUnreachable(self.name, f"SFTP session failed: {exc}") from exc
        return self._sftp

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def __enter__(self) -> HostShell:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- commands -------------------------------------------------------------------------------------------
    def execute(
        self, argv: Sequence[str], *, timeout: float = 300, env: Mapping[str, str] | None = None
    ) -> Completed:
        """Run ``argv`` on the host and return what it left, whatever its exit status.

        ``env`` reaches the program only where the host's sshd accepts those names (``AcceptEnv``); it is
        for secrets that must stay off the command line, which every user of the host sees in ``ps``.
        """
        import paramiko

        command = remote_command(argv, timeout)
        try:
            _stdin, stdout, stderr = self.client().exec_command(
                command, timeout=timeout + CHANNEL_SLACK_SECONDS, environment=dict(env) if env else None
            )
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            status = stdout.channel.recv_exit_status()
        except TimeoutError as exc:
            raise HostCommandError(self.name, shlex.join(argv[:2]), TIMED_OUT, str(exc)) from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise HostUnreachable(self.name, f"SSH session lost running {argv[0]}: {exc}") from exc
        return Completed(status, out, err)

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
        ok: Sequence[int] = (0,),
    ) -> str:
        """Run ``argv``; return its stdout, or raise :class:`HostCommandError` naming ``what`` and host."""
        done = self.execute(argv, timeout=timeout, env=env)
        if done.status not in ok:
            raise HostCommandError(self.name, what, done.status, done.stderr + done.stdout)
        return done.stdout

    # -- files ----------------------------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        try:
            self.sftp().stat(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise HostError(self.name, f"stat {path}: {exc}") from exc
        return True

    def is_dir(self, path: str) -> bool:
        try:
            mode = self.sftp().stat(path).st_mode
        except FileNotFoundError:
            return False
        return mode is not None and stat.S_ISDIR(mode)

    def read_text(self, path: str) -> str:
        with self.sftp().open(path, "r") as handle:
            return bytes(handle.read()).decode(errors="replace")

    def write_text(self, path: str, text: str, mode: int = 0o600) -> None:
        """Write ``path`` whole: to a temporary name beside it, then renamed over it (atomic on the host)."""
        partial = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.partial")
        sftp = self.sftp()
        with sftp.open(partial, "w") as handle:
            handle.write(text.encode())
        sftp.chmod(partial, mode)
        sftp.posix_rename(partial, path)

    def remove(self, path: str) -> bool:
        """Remove a file; returns whether there was one."""
        try:
            self.sftp().remove(path)
        except FileNotFoundError:
            return False
        return True

    def listing(self, folder: str) -> dict[str, float]:
        """Return each entry of ``folder`` with its modification time (empty when the folder is missing)."""
        try:
            entries = self.sftp().listdir_attr(folder)
        except FileNotFoundError:
            return {}
        return {entry.filename: float(entry.st_mtime or 0) for entry in entries}

    def stream(self, path: str) -> Iterator[bytes]:
        """Yield the bytes of ``path`` in chunks (for copies between hosts that never touch a shared disk)."""
        with self.sftp().open(path, "rb") as handle:
            handle.prefetch()
            while chunk := handle.read(COPY_CHUNK_BYTES):
                yield bytes(chunk)


def copy_between(source: HostShell, path: str, target: HostShell, dest: str, mode: int = 0o600) -> None:
    """Copy one file from one host to another through this worker, landing atomically at ``dest``."""
    partial = posixpath.join(posixpath.dirname(dest), f".{posixpath.basename(dest)}.partial")
    sftp = target.sftp()
    with sftp.open(partial, "wb") as handle:
        # pipelined, as paramiko's own put() does: a write no longer waits for the host's answer to each
        # 32 KiB packet (a 16 MiB WAL segment took seconds); an error still surfaces, at the latest on close
        handle.set_pipelined(True)
        for chunk in source.stream(path):
            handle.write(chunk)
    sftp.chmod(partial, mode)
    sftp.posix_rename(partial, dest)


_SHELLS: dict[tuple[str, str], HostShell] = {}


def shell(ssh_conn_id: str, name: str | None = None) -> HostShell:
    """Return this process's session to the host, opened once and reused by the task's later steps.

    Keyed on the connection's current definition too, so a connection that changes (another host key,
    another port) gets a new session that is checked again, never the old one.
    """
    conn = BaseHook.get_connection(ssh_conn_id)
    key = (ssh_conn_id, f"{conn.host}:{conn.port}:{conn.login}:{conn.extra}")
    found = _SHELLS.get(key)
    if found is None:
        found = _SHELLS[key] = HostShell(ssh_conn_id, name)
    return found


def forget_sessions() -> None:
    """Close every session this process keeps (a new task process starts with none)."""
    for host in _SHELLS.values():
        host.close()
    _SHELLS.clear()
