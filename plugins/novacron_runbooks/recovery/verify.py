"""Checks of a restored database before anyone relies on it: row counts and the application's smoke query.

``pg_amcheck`` runs beside these (:meth:`Scratch.amcheck` on a copy, :func:`checks.amcheck_live` on a node).
The smoke query is the test restore's: the API's VM list with each VM's host, which needs both tables, their
keys and the join to work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

SMOKE_QUERY = """
SELECT v.id, v.name, h.name AS host, v.status
FROM vms v JOIN hosts h ON h.id = v.host_id
ORDER BY v.id LIMIT 100
"""
"""The API's VM list (``GET /vms``) with each VM's host; ``backup_validation`` runs it too."""
USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY 1, 2
"""


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows of every user table, by ``schema.table``."""
    from psycopg import sql

    counts: dict[str, int] = {}
    for schema, table in conn.execute(USER_TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(str(schema), str(table)))
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def smoke(conn: psycopg.Connection[Any]) -> tuple[bool, dict[str, int]]:
    """Run the VM list; it passes when it returns min(VMs, 100) rows and there are VMs at all."""
    rows = conn.execute(SMOKE_QUERY).fetchall()
    found = conn.execute("SELECT count(*) FROM vms").fetchone()
    total = int(found[0]) if found else 0
    return len(rows) == min(total, 100) and total > 0, {"rows": len(rows), "vms": total}
