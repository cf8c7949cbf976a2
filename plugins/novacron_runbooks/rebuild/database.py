"""The database as a full rebuild sees it: a writable primary or not, and whether it takes reads and writes.

A full rebuild runs the database recovery only when it is needed: a primary that answers and is not in
recovery is left alone (promoting or restoring a healthy database would lose writes for nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from novacron_runbooks.backup.database import connect_primary

VERIFY_ACTOR = "dr_complete_recovery"


@dataclass(frozen=True)
class PrimaryState:
    writable: bool
    reason: str


def primary_state() -> PrimaryState:
    """Connect through the runbooks' database connection and ask whether it is a writable primary."""
    try:
        with connect_primary() as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error as exc:
        return PrimaryState(False, f"no connection to the primary: {type(exc).__name__}: {exc}".strip())
    if row is None or row[0]:
        return PrimaryState(False, "the database connection reaches a server in recovery (read-only)")
    return PrimaryState(True, "the primary answers and accepts writes")


def verify_reads_writes(run: str, write: bool) -> dict[str, int]:
    """Read the application's tables and, when ``write``, commit an audit record and read it back.

    The write is a real commit on the table the application audits into: a read-only server, a full disk or a
    broken synchronous standby all fail it, which is what the verification must notice.
    """
    with connect_primary() as conn:
        counts = {
            table: int(conn.execute(query).fetchone()[0])  # type: ignore[index]
            for table, query in (
                ("hosts", "SELECT count(*) FROM hosts"),
                ("vms", "SELECT count(*) FROM vms"),
            )
        }
        if not write:
            return counts
        host = conn.execute("SELECT min(id) FROM hosts").fetchone()
        if host is None or host[0] is None:
            raise RuntimeError("the hosts table is empty: nothing to audit the verification against")
        row = conn.execute(
            "INSERT INTO audit_log (actor, action, entity, entity_id, details) "
            "VALUES (%s, 'dr_verification', 'host', %s, jsonb_build_object('run', %s::text)) RETURNING id",
            (VERIFY_ACTOR, host[0], run),
        ).fetchone()
        if row is None:
            raise RuntimeError("the verification write returned no row")
        back = conn.execute("SELECT count(*) FROM audit_log WHERE id = %s", (row[0],)).fetchone()
        counts["audit_written"] = int(back[0]) if back else 0
    return counts
