"""PostgreSQL connections the backup runbooks open: the primary through its Airflow connection, the scratch
copy through its local socket (trusted for the database's OS user, as pgBackRest itself connects)."""

from __future__ import annotations

from typing import Any

import psycopg
from airflow.sdk import BaseHook

from novacron_runbooks import connections

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 300_000


def connect_primary(conn_id: str = connections.DATABASE) -> psycopg.Connection[Any]:
    """Autocommit connection to the primary as the connection's role, with a statement timeout.

    The connection may list every node in its extras, as libpq multi-host keywords (``host`` and ``port``
    comma lists, ``target_session_attrs``, the same keys the Postgres provider hands to libpq): libpq then
    tries each node and keeps the one in the wanted role, so the primary is found after a failover.
    """
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


def connect_socket(socket_dir: str, port: int, user: str, dbname: str) -> psycopg.Connection[Any]:
    """Autocommit connection to a local cluster through its Unix socket folder."""
    return psycopg.connect(
        host=socket_dir,
        port=port,
        user=user,
        dbname=dbname,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )
