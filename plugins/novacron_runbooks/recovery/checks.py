"""Detecting damage on the live primary: pg_amcheck, data checksums, and the application's invariants.

``pg_amcheck`` needs amcheck's functions, which PostgreSQL grants to superusers only; it runs on the database
host, through that host's SSH connection, as the database's OS user over the local socket, never with the
application role. The invariants come from the ``app_invariant_violations`` view the schema ships (one
row per invariant with its count of violating rows), mapped here to the tables each one implicates.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.database.nodes import DatabaseNodes, Node

INVARIANT_TABLES: dict[str, tuple[str, ...]] = {
    "vm_host_exists": ("public.vms", "public.hosts"),
    "migration_vm_exists": ("public.migrations", "public.vms"),
    "migration_hosts_exist": ("public.migrations", "public.hosts"),
    "completed_migration_has_finished_at": ("public.migrations",),
    "migration_between_distinct_hosts": ("public.migrations",),
    "migrating_vm_has_running_migration": ("public.vms", "public.migrations"),
    "no_running_vm_on_failed_host": ("public.vms", "public.hosts"),
}
"""Which tables a broken invariant points at (the view's rows, ``include/sandbox/schema.sql``)."""
OUTPUT_LINES = 20


@dataclass
class Findings:
    """What detection found: each check's result and the tables it implicates."""

    amcheck: str = ""
    amcheck_ok: bool = True
    checksums_enabled: bool = False
    checksum_failures: int = 0
    invariants: dict[str, int] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return not self.amcheck_ok or self.checksum_failures > 0 or any(self.invariants.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "amcheck_ok": self.amcheck_ok,
            "amcheck": self.amcheck,
            "checksums_enabled": self.checksums_enabled,
            "checksum_failures": self.checksum_failures,
            "invariants": self.invariants,
            "tables": self.tables,
        }


def amcheck_live(nodes: DatabaseNodes, node: Node, dbname: str) -> tuple[bool, str]:
    """``pg_amcheck --heapallindexed`` of ``dbname`` on ``node``'s host; exit 2 means corruption was found."""
    argv = [
        posixpath.join(nodes.programs.pg_bindir, "pg_amcheck"),
        f"--host={node.socket_dir}",
        f"--port={node.port}",
        f"--database={dbname}",
        "--install-missing",
        "--heapallindexed",
    ]
    done = nodes.programs.host(node).execute(argv, timeout=3600)
    output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-OUTPUT_LINES:])
    if done.status not in (0, 2):
        raise RuntimeError(f"pg_amcheck on {node.name} could not run (exit {done.status}): {output}")
    return done.status == 0, output


def checksums(conn: psycopg.Connection[Any]) -> tuple[bool, int]:
    """Whether data checksums are on, and the failures PostgreSQL counted for this database."""
    enabled = conn.execute("SHOW data_checksums").fetchone()
    row = conn.execute(
        "SELECT coalesce(checksum_failures, 0) FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return bool(enabled and enabled[0] == "on"), int(row[0]) if row else 0


def invariants(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Violations per application invariant; empty when the schema has no invariant view."""
    present = conn.execute("SELECT to_regclass('public.app_invariant_violations')").fetchone()
    if not present or present[0] is None:
        return {}
    rows = conn.execute("SELECT invariant, violations FROM public.app_invariant_violations").fetchall()
    return {str(name): int(count) for name, count in rows}


def implicated(found: dict[str, int]) -> list[str]:
    """Tables the broken invariants point at, in a stable order."""
    tables = {table for name, count in found.items() if count for table in INVARIANT_TABLES.get(name, ())}
    return sorted(tables)
