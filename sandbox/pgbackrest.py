"""The pgBackRest repository of the sandbox: config, stanza, check, and a first full backup.

Everything pgBackRest writes (repository, lock, spool, log) stays inside the sandbox folder, so it never meets
the system's /var/lib/pgbackrest. Restores work from the first start because one full backup is always made.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from sandbox.postgres import STANZA, pgbackrest_conf, primary, replica
from sandbox.tools import PG_USER, chown_pg, find_tools, run_pg

if TYPE_CHECKING:
    from sandbox.layout import Layout

CIPHER_ENV = "NOVACRON_SANDBOX_BACKUP_CIPHER_PASS"


def write_config(layout: Layout) -> None:
    """Generate ``pgbackrest.conf`` (mode 0640: it may hold the cipher pass)."""
    base = layout.pg_dir / "pgbackrest"
    lines = [
        "[global]",
        f"repo1-path={base / 'repo'}",
        "repo1-retention-full=2",
        "start-fast=y",
        "archive-async=n",
        "compress-type=lz4",
        "process-max=2",
        f"log-path={layout.log_dir / 'pgbackrest'}",
        f"lock-path={base / 'lock'}",
        f"spool-path={base / 'spool'}",
        "log-level-console=warn",
        "log-level-file=info",
    ]
    cipher_pass = os.environ.get(CIPHER_ENV)
    if cipher_pass:
        lines += ["repo1-cipher-type=aes-256-cbc", f"repo1-cipher-pass={cipher_pass}"]
    lines += ["", f"[{STANZA}]"]
    # Both nodes are listed, so backups find the primary whichever node it is after a failover.
    for index, cluster in enumerate((primary(layout), replica(layout)), start=1):
        lines += [
            f"pg{index}-path={cluster.data_dir}",
            f"pg{index}-port={cluster.port}",
            f"pg{index}-socket-path={cluster.socket_dir}",
            f"pg{index}-user={PG_USER}",
        ]
    path = pgbackrest_conf(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o640)
    chown_pg(path)


def _run(layout: Layout, *args: str, timeout: float = 600) -> str:
    argv = [find_tools()["pgbackrest"], f"--config={pgbackrest_conf(layout)}", f"--stanza={STANZA}", *args]
    return run_pg(argv, f"pgbackrest {args[0]}", timeout=timeout)


def info(layout: Layout) -> dict[str, Any]:
    """``pgbackrest info`` of our stanza as a dict (empty when the repository has none)."""
    stanzas = json.loads(_run(layout, "info", "--output=json", timeout=60) or "[]")
    return stanzas[0] if stanzas else {}


def check(layout: Layout) -> None:
    """``pgbackrest check``: the archive_command really delivers WAL to the repository."""
    _run(layout, "check", timeout=120)


def ensure(layout: Layout) -> str:
    """Config, stanza-create (idempotent), check, and a full backup when the repository has none yet."""
    write_config(layout)
    _run(layout, "stanza-create", timeout=120)
    check(layout)
    if info(layout).get("backup"):
        return "stanza ok, backup present"
    _run(layout, "backup", "--type=full", timeout=1800)
    return "stanza ok, initial full backup made"


def health(layout: Layout) -> tuple[bool, str]:
    """Stanza status and the newest backup, from ``pgbackrest info`` (cheap: no WAL switch)."""
    if not pgbackrest_conf(layout).exists():
        return False, "not configured"
    stanza = info(layout)
    status = stanza.get("status", {})
    backups = stanza.get("backup", [])
    if status.get("code") != 0 or not backups:
        return False, f"stanza status: {status.get('message', 'missing')}, {len(backups)} backups"
    newest = backups[-1]
    return True, f"{len(backups)} backup(s), newest {newest['label']} ({newest['type']})"
