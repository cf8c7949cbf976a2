"""pgBackRest in its dedicated-repository-host topology, over TLS: configs, servers, stanza, first backup.

Every host has its own pgbackrest.conf in ``<pg_dir>/pgbackrest/``:

- ``backup-host.conf``: the repository (``<pg_dir>/pgbackrest/repo``) and both database hosts as
  ``pgN-host-type=tls`` clients of their servers; backup, check, verify, expire and info run with it;
- ``pg-a.conf`` / ``pg-b.conf``: each database host's own folder, and the repository reached over TLS
  (``repo1-host-type=tls``) for archive-push, archive-get and restores;
- ``scratch.conf``: restores into the scratch instance, which lives on the repository host.

Each host runs ``pgbackrest server`` on its own port, authorizing clients by certificate CN. Locks, spools
and logs are per host, so the hosts never share a file. Restores work from the first start because one full
backup is always made.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from sandbox import tls
from sandbox.hosts import BACKUP_HOST, DATABASE_HOSTS, PG_A, PG_B, Host
from sandbox.layout import HOST
from sandbox.postgres import STANZA, Cluster, primary, replica, scratch
from sandbox.tools import PG_USER, as_pg_daemon, chown_pg, find_tools, run_pg

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

CIPHER_ENV = "NOVACRON_SANDBOX_BACKUP_CIPHER_PASS"
SCRATCH = "scratch"


def config_dir(layout: Layout) -> Path:
    return layout.pg_dir / "pgbackrest"


def config_of(layout: Layout, name: str) -> Path:
    """``<name>.conf``: ``backup-host``, ``pg-a``, ``pg-b`` or ``scratch``."""
    return config_dir(layout) / f"{name}.conf"


def repo_path(layout: Layout) -> Path:
    """Where the repository lives on the repository host."""
    return config_dir(layout) / "repo"


def repository_config(layout: Layout) -> Path:
    return config_of(layout, BACKUP_HOST.name)


def cluster_of(layout: Layout, host: Host) -> Cluster:
    """Return the data folder each database host holds (pg-a the primary folder, pg-b the replica folder)."""
    return primary(layout) if host == PG_A else replica(layout)


def _own_paths(layout: Layout, name: str) -> list[str]:
    base = config_dir(layout) / name
    return [
        f"log-path={layout.log_dir / 'pgbackrest' / name}",
        f"lock-path={base / 'lock'}",
        f"spool-path={base / 'spool'}",
        "log-level-console=warn",
        "log-level-file=info",
    ]


def _server(layout: Layout, host: Host, clients: tuple[Host, ...]) -> list[str]:
    return [
        f"tls-server-address={HOST}",
        f"tls-server-port={layout.port(host.pgbackrest_server)}",
        f"tls-server-cert-file={tls.cert_file(layout, host)}",
        f"tls-server-key-file={tls.key_file(layout, host)}",
        f"tls-server-ca-file={tls.ca_file(layout)}",
        *(f"tls-server-auth={client.name}={STANZA}" for client in clients),
    ]


def _cipher() -> list[str]:
    cipher_pass = os.environ.get(CIPHER_ENV)
    return ["repo1-cipher-type=aes-256-cbc", f"repo1-cipher-pass={cipher_pass}"] if cipher_pass else []


def _repository(layout: Layout) -> list[str]:
    lines = [
        f"repo1-path={repo_path(layout)}",
        "repo1-retention-full=2",
        "start-fast=y",
        "archive-async=n",
        "compress-type=lz4",
        "process-max=2",
    ]
    return lines + _cipher()


def _cluster(index: int, cluster: Cluster) -> list[str]:
    return [
        f"pg{index}-path={cluster.data_dir}",
        f"pg{index}-port={cluster.port}",
        f"pg{index}-socket-path={cluster.socket_dir}",
    ]


def backup_host_config(layout: Layout) -> list[str]:
    lines = ["[global]", *_repository(layout), *_own_paths(layout, BACKUP_HOST.name)]
    lines += _server(layout, BACKUP_HOST, DATABASE_HOSTS)
    lines += ["", f"[{STANZA}]"]
    # Both nodes are listed, so backups find the primary whichever node it is after a failover.
    for index, host in enumerate(DATABASE_HOSTS, start=1):
        lines += [
            f"pg{index}-host={HOST}",
            f"pg{index}-host-type=tls",
            f"pg{index}-host-port={layout.port(host.pgbackrest_server)}",
            f"pg{index}-host-cert-file={tls.cert_file(layout, BACKUP_HOST)}",
            f"pg{index}-host-key-file={tls.key_file(layout, BACKUP_HOST)}",
            f"pg{index}-host-ca-file={tls.ca_file(layout)}",
            # the remote side reads this config (its lock, log and spool paths), not /etc/pgbackrest's
            f"pg{index}-host-config={config_of(layout, host.name)}",
            *_cluster(index, cluster_of(layout, host)),
            f"pg{index}-user={PG_USER}",
        ]
    return lines


def database_host_config(layout: Layout, host: Host) -> list[str]:
    lines = [
        "[global]",
        f"repo1-host={HOST}",
        "repo1-host-type=tls",
        f"repo1-host-port={layout.port(BACKUP_HOST.pgbackrest_server)}",
        f"repo1-host-cert-file={tls.cert_file(layout, host)}",
        f"repo1-host-key-file={tls.key_file(layout, host)}",
        f"repo1-host-ca-file={tls.ca_file(layout)}",
        f"repo1-host-config={repository_config(layout)}",
        # the repository's path on its host: a remote repository is addressed with the client's options
        f"repo1-path={repo_path(layout)}",
        *_cipher(),
        "archive-async=n",
        "compress-type=lz4",
        *_own_paths(layout, host.name),
        *_server(layout, host, (BACKUP_HOST,)),
    ]
    return [*lines, "", f"[{STANZA}]", *_cluster(1, cluster_of(layout, host))]


def scratch_config(layout: Layout) -> list[str]:
    lines = ["[global]", *_repository(layout), *_own_paths(layout, SCRATCH)]
    return [*lines, "", f"[{STANZA}]", *_cluster(1, scratch(layout))]


def write_configs(layout: Layout) -> None:
    """Every host's pgbackrest.conf (mode 0640: the repository's may hold the cipher pass)."""
    folder = config_dir(layout)
    folder.mkdir(parents=True, exist_ok=True)
    chown_pg(folder)
    texts = {
        BACKUP_HOST.name: backup_host_config(layout),
        PG_A.name: database_host_config(layout, PG_A),
        PG_B.name: database_host_config(layout, PG_B),
        SCRATCH: scratch_config(layout),
    }
    for name, lines in texts.items():
        path = config_of(layout, name)
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o640)
        chown_pg(path)
        for sub in ("lock", "spool"):
            own = folder / name / sub
            own.mkdir(parents=True, exist_ok=True)
            chown_pg(own.parent)
            chown_pg(own)
        logs = layout.log_dir / "pgbackrest" / name
        logs.mkdir(parents=True, exist_ok=True)
        chown_pg(logs)


def server_command(layout: Layout, host: Host) -> list[str]:
    """``pgbackrest server`` of the host, in the foreground, as the ``postgres`` user."""
    return as_pg_daemon([find_tools()["pgbackrest"], f"--config={config_of(layout, host.name)}", "server"])


def server_healthy(layout: Layout, host: Host) -> tuple[bool, str]:
    """``pgbackrest server-ping``: the host's TLS server answers on its port."""
    argv = [find_tools()["pgbackrest"], f"--tls-server-address={HOST}"]
    argv += [f"--tls-server-port={layout.port(host.pgbackrest_server)}", "--log-level-console=error"]
    try:
        run_pg([*argv, "server-ping"], f"pgbackrest server-ping {host.name}", timeout=15)
    except Exception as exc:  # noqa: BLE001 - a status line must never crash the status table
        return False, str(exc).splitlines()[0]
    return True, f"pgbackrest server of {host.name}, TLS"


def _run(layout: Layout, *args: str, timeout: float = 600) -> str:
    argv = [find_tools()["pgbackrest"], f"--config={repository_config(layout)}", f"--stanza={STANZA}", *args]
    return run_pg(argv, f"pgbackrest {args[0]}", timeout=timeout)


def info(layout: Layout) -> dict[str, Any]:
    """``pgbackrest info`` of our stanza as a dict (empty when the repository has none)."""
    stanzas = json.loads(_run(layout, "info", "--output=json", timeout=60) or "[]")
    return stanzas[0] if stanzas else {}


def check(layout: Layout) -> None:
    """``pgbackrest check``: the archive_command really delivers WAL to the repository, over TLS."""
    _run(layout, "check", timeout=120)


def ensure(layout: Layout) -> str:
    """Stanza-create (idempotent), check, and a full backup when the repository has none yet."""
    write_configs(layout)
    _run(layout, "stanza-create", timeout=120)
    check(layout)
    if info(layout).get("backup"):
        return "stanza ok, backup present"
    _run(layout, "backup", "--type=full", timeout=1800)
    return "stanza ok, initial full backup made"


def health(layout: Layout) -> tuple[bool, str]:
    """Stanza status and the newest backup, from ``pgbackrest info`` (cheap: no WAL switch)."""
    if not repository_config(layout).exists():
        return False, "not configured"
    stanza = info(layout)
    status = stanza.get("status", {})
    backups = stanza.get("backup", [])
    if status.get("code") != 0 or not backups:
        return False, f"stanza status: {status.get('message', 'missing')}, {len(backups)} backups"
    newest = backups[-1]
    return True, f"{len(backups)} backup(s), newest {newest['label']} ({newest['type']})"
