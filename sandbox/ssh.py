"""One real OpenSSH server per sandbox host: how runbooks reach a host's programs and files.

Each sshd runs as the ``postgres`` user (a non-root sshd can only log that user in, which is exactly the
database's OS user the runbooks act as) with its own port, host key and config in the host's folder, never
the system's sshd or /etc/ssh. The runbooks' key pair is generated once; its private half stays on the
Airflow side (``<root>/ssh``), its public half is the hosts' ``authorized_keys``. The connections pin each
host's public key.
"""

from __future__ import annotations

import socket
import subprocess
from typing import TYPE_CHECKING

from sandbox.hosts import HOSTS, Host
from sandbox.layout import HOST
from sandbox.processes import SandboxError
from sandbox.tools import as_pg_daemon, chown_pg, find_tools, run_pg

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

CLIENT_KEY = "runbooks_ed25519"
HOST_KEY = "ssh_host_ed25519_key"
BANNER = b"SSH-2.0-"


def client_key(layout: Layout) -> Path:
    """Return the runbooks' private key (the Airflow side's; root-owned, 0600)."""
    return layout.root / "ssh" / CLIENT_KEY


def authorized_keys(layout: Layout) -> Path:
    return layout.pg_dir / "hosts" / "authorized_keys"


def host_key(layout: Layout, host: Host) -> Path:
    return host.folder(layout) / HOST_KEY


def config_file(layout: Layout, host: Host) -> Path:
    return host.folder(layout) / "sshd_config"


def _keygen(path: Path, comment: str, *, as_pg: bool) -> None:
    argv = [find_tools()["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
    if as_pg:
        run_pg(argv, f"ssh-keygen {path.name}", timeout=60)
        return
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SandboxError(f"ssh-keygen {path.name} failed: {done.stderr.strip()}")


def prepare(layout: Layout) -> None:
    """Keys (generated once, kept across restarts), authorized_keys and every host's sshd_config."""
    key = client_key(layout)
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        _keygen(key, "novacron-runbooks", as_pg=False)
    keys = authorized_keys(layout)
    keys.parent.mkdir(parents=True, exist_ok=True)
    chown_pg(keys.parent)
    keys.write_text(key.with_suffix(".pub").read_text())
    keys.chmod(0o644)
    chown_pg(keys)
    for host in HOSTS:
        folder = host.folder(layout)
        folder.mkdir(parents=True, exist_ok=True)
        chown_pg(folder)
        if not host_key(layout, host).exists():
            _keygen(host_key(layout, host), f"sandbox {host.name}", as_pg=True)
        write_config(layout, host)


def write_config(layout: Layout, host: Host) -> None:
    settings = [
        f"ListenAddress {HOST}",
        f"Port {layout.port(host.sshd)}",
        f"HostKey {host_key(layout, host)}",
        f"AuthorizedKeysFile {authorized_keys(layout)}",
        f"PidFile {host.folder(layout) / 'sshd.pid'}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        # the sandbox may live under /tmp (tests), whose sticky, world-writable mode StrictModes refuses
        "StrictModes no",
        "PermitRootLogin no",
        "AllowUsers postgres",
        "Subsystem sftp internal-sftp",
        # the repository cipher passphrase travels in the session's environment, never on a command line
        "AcceptEnv PGBACKREST_REPO1_CIPHER_PASS PGBACKREST_REPO1_CIPHER_TYPE",
        "LogLevel INFO",
    ]
    path = config_file(layout, host)
    path.write_text(
        "# Written by `python -m sandbox start`; edits are overwritten.\n" + "\n".join(settings) + "\n"
    )
    chown_pg(path)


def command(layout: Layout, host: Host) -> list[str]:
    """sshd in the foreground (its log on stderr, into the component's log), as the ``postgres`` user."""
    return as_pg_daemon([find_tools()["sshd"], "-D", "-e", "-f", str(config_file(layout, host))])


def public_host_key(layout: Layout, host: Host) -> str:
    """``ssh-ed25519 AAAA...`` of the host: what the connection pins."""
    kind, key, *_ = host_key(layout, host).with_suffix(".pub").read_text().split()
    return f"{kind} {key}"


def healthy(layout: Layout, host: Host) -> tuple[bool, str]:
    """Check that the sshd answers with an SSH banner on its port."""
    try:
        with socket.create_connection((HOST, layout.port(host.sshd)), timeout=2) as conn:
            banner = conn.recv(64)
    except OSError as exc:
        return False, f"no answer: {exc}"
    if not banner.startswith(BANNER):
        return False, f"not an SSH server: {banner[:20]!r}"
    return True, f"sshd of {host.name}, {banner.decode(errors='replace').strip()}"
