"""The database as a full rebuild sees it: a writable primary or not, and whether it takes reads and writes.

A full rebuild runs the database recovery only when it is needed: a primary that answers and is not in
recovery is left alone (promoting or restoring a healthy database would lose writes for nothing). The
address checked is the one the application is configured with (ConfigMap ``novacron-api-config``): after a
failover the database recovery repoints the application there, while the Airflow connection may still name
the old primary. The connection gives the credentials, and the address when the ConfigMap is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections
from novacron_runbooks.database.application import configured_address
from novacron_runbooks.hooks.database import connect_node

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.release.cluster import ReleaseCluster

VERIFY_ACTOR = "dr_complete_recovery"


@dataclass(frozen=True)
class PrimaryState:
    writable: bool
    reason: str


def application_address(cluster: ReleaseCluster) -> tuple[str, int]:
    """Return where the application connects; the database connection's address when its config is gone."""
    from kubernetes.client.exceptions import ApiException

    try:
        host, port = configured_address(cluster)
    except ApiException as exc:
        if exc.status != 404:
            raise
        host, port = "", 0
    if host and port:
        return host, port
    conn = BaseHook.get_connection(connections.DATABASE)
    return str(conn.host), int(conn.port or 5432)


def connect(address: tuple[str, int]) -> psycopg.Connection[Any]:
    """Autocommit connection to ``address`` with the database connection's role, database and timeouts."""
    return connect_node(address[0], address[1], conn_id=connections.DATABASE)


def primary_state(address: tuple[str, int]) -> PrimaryState:
    """Ask the server at ``address`` whether it is a writable primary."""
    import psycopg

    where = f"{address[0]}:{address[1]}"
    try:
        with connect(address) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error as exc:
        return PrimaryState(False, f"no connection to the primary at {where}: {type(exc).__name__}")
    if row is None or row[0]:
        return PrimaryState(False, f"{where} is in recovery (read-only)")
    return PrimaryState(True, f"the primary at {where} answers and accepts writes")


def verify_reads_writes(address: tuple[str, int], run: str, write: bool) -> dict[str, int]:
    """Read the application's tables and, when ``write``, commit an audit record and read it back.

    The write is a real commit on the table the application audits into: a read-only server, a full disk or a
    broken synchronous standby all fail it, which is what the verification must notice.
    """
    with connect(address) as conn:
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
