"""A throw-away Airflow metadata database on the sandbox's PostgreSQL, for the distributed (Celery) stack.

Airflow's distributed setup needs a real database server shared by every component; the sandbox already runs
PostgreSQL 15, so the stack gets its own database and login role there (``airflow_meta_<random>``) and drops
both when it stops. The runbooks' own ``novacron`` database is never touched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from sandbox.layout import HOST
from sandbox.postgres import writable

if TYPE_CHECKING:
    from sandbox.layout import Layout

PREFIX = "airflow_meta_"


@dataclass(frozen=True)
class MetaDatabase:
    """One metadata database and the role that owns it, on the sandbox's writable cluster."""

    name: str
    password: str
    port: int

    @property
    def sqlalchemy_url(self) -> str:
        """Airflow's ``[database] sql_alchemy_conn`` (psycopg2, as Airflow's own images use)."""
        return f"postgresql+psycopg2://{self.name}:{self.password}@{HOST}:{self.port}/{self.name}"

    @property
    def celery_result_backend(self) -> str:
        """Celery's result backend URL: the same database through Celery's SQLAlchemy backend."""
        return f"db+postgresql://{self.name}:{self.password}@{HOST}:{self.port}/{self.name}"


def create(layout: Layout) -> MetaDatabase:
    """Create a fresh role and database named ``airflow_meta_<random>``, the role owning the database.

    The random suffix keeps two stacks on one sandbox apart; the name is made here, never taken from input,
    and still goes through ``sql.Identifier``.
    """
    cluster = writable(layout)
    meta = MetaDatabase(PREFIX + secrets.token_hex(4), secrets.token_urlsafe(18), cluster.port)
    role = sql.Identifier(meta.name)
    with cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(meta.password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
    return meta


def drop(layout: Layout, meta: MetaDatabase) -> None:
    """Drop the database (closing any connection left by a component that died) and then its role."""
    if not meta.name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {meta.name!r}: not a metadata database of the Celery stack")
    name = sql.Identifier(meta.name)
    with writable(layout).connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(name))
