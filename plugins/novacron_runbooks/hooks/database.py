"""Every PostgreSQL connection the runbooks open, over TCP from the worker, through Airflow connections.

Two roles, two connections: the application's (``novacron_db``, what the API itself uses: reads, writes,
row checks) and the operations role (``novacron_db_admin``: promotion, replication slots, extension
upgrades), which reaches one node at a time at the address the node list gives. Nothing connects through a
local socket: the database is on another host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 300_000


def connect_primary(conn_id: str = connections.DATABASE) -> psycopg.Connection[Any]:
    """Autocommit connection to the primary as the connection's role, with a statement timeout.

    The connection may list every node in its extras, as libpq multi-host keywords (``host`` and ``port``
    comma lists, ``target_session_attrs``, the same keys the Postgres provider hands to libpq): libpq then
    tries each node and keeps the one in the wanted role, so the primary is found after a failover.
    """
    import psycopg

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    return psycopg.connect(
        host=str(extra.get("host") or conn.host),
        port=str(extra.get("port") or conn.port or 5432),
        target_session_attrs=str(extra.get("target_session_attrs") or "any"),
        user=conn.login,
        password=conn.password,
        dbname=conn.schema,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


def connect_node(
    host: str, port: int, dbname: str | None = None, conn_id: str = connections.DATABASE_ADMIN
) -> psycopg.Connection[Any]:
    """Autocommit connection to one node (whatever its role), as the operations role by default.

    ``dbname`` defaults to the connection's schema (``postgres`` for the operations role).
    """
    import psycopg

    conn = BaseHook.get_connection(conn_id)
    return psycopg.connect(
        host=host or str(conn.host),
        port=port,
        user=conn.login,
        password=conn.password,
        dbname=dbname or conn.schema or "postgres",
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )
