"""The three hosts the sandbox plays on one machine, and what tells them apart.

Production runs the pgBackRest repository and each PostgreSQL node on hosts of their own; runbooks reach them
only through SSH and pgBackRest's TLS servers. The sandbox gives each host its own sshd (own port, own host
key) and its own ``pgbackrest server``, so a fault on one host (its sshd stopped) is that host's only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout


@dataclass(frozen=True)
class Host:
    """One host: its name (the TLS certificate's CN too), and its components' names in the layout."""

    name: str
    sshd: str
    pgbackrest_server: str

    def folder(self, layout: Layout) -> Path:
        """Return the host's own configuration folder (sshd, pgBackRest), owned by the database's OS user."""
        return layout.pg_dir / "hosts" / self.name


BACKUP_HOST = Host("backup-host", "sshd_backup", "pgbackrest_repo")
PG_A = Host("pg-a", "sshd_pg_a", "pgbackrest_pg_a")
PG_B = Host("pg-b", "sshd_pg_b", "pgbackrest_pg_b")
HOSTS = (BACKUP_HOST, PG_A, PG_B)
TRANSPORTS = tuple(host.sshd for host in HOSTS) + tuple(host.pgbackrest_server for host in HOSTS)
"""Each host's sshd, then each host's pgBackRest TLS server: the sandbox components that carry the hosts."""
DATABASE_HOSTS = (PG_A, PG_B)
"""pg-a holds the primary folder, pg-b the replica folder (roles move between them; the folders do not)."""


def by_component(component: str) -> Host:
    return next(host for host in HOSTS if component in (host.sshd, host.pgbackrest_server))
