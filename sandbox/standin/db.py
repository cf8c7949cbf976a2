"""A small asynchronous PostgreSQL connection pool and the API's queries.

``psycopg_pool`` is not among the project's dependencies, and the stand-in needs little: a bounded number of
connections, a wait with a timeout when all are busy (the symptom the database runbook diagnoses), and the
count of connections in use for ``novacron_db_pool_connections``.

The database address follows the API's ConfigMap (``DATABASE_HOST`` / ``DATABASE_PORT``), as a real
deployment's environment does after a rollout restart: when it changes, idle connections are closed and new
ones go to the new address; the user, password and database name stay those of the DSN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)

QUERIES = {
    "vms": "SELECT id, name, host_id, status, vcpus, memory_mb, disk_gb FROM vms ORDER BY id LIMIT 100",
    "hosts": "SELECT id, name, datacenter, status, cpu_cores, memory_mb FROM hosts ORDER BY id LIMIT 100",
    "migrations": "SELECT id, vm_id, source_host_id, target_host_id, status, bytes_transferred, error "
    "FROM migrations ORDER BY id DESC LIMIT 100",
}


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole wait."""


class Pool:
    """Up to ``max_size`` connections, opened lazily and dropped when broken."""

    def __init__(
        self, dsn: str, max_size: int = 10, wait: float = 2.0, on_change: Callable[[], None] | None = None
    ) -> None:
        self.base_dsn = dsn
        self.dsn = dsn
        self.generation = 0
        self.max_size = max_size
        self.wait = wait
        self.in_use = 0
        self.up = False
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(max_size)
        self._on_change = on_change or (lambda: None)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Borrow a connection; raise PoolTimeout when none frees up in time."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait)
        except TimeoutError as exc:
            raise PoolTimeout(f"no free connection within {self.wait}s ({self.max_size} in use)") from exc
        conn = None
        generation = self.generation
        try:
            conn = (
                self._idle.pop()
                if self._idle
                else await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=3, application_name="novacron-api"
                )
            )
            self.up = True
            self.in_use += 1
            self._on_change()
            yield conn
        except psycopg.OperationalError:
            self.up = False
            if conn is not None:
                await conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                self.in_use -= 1
                if conn.closed or conn.broken:
                    self.up = False
                elif generation != self.generation:  # opened to the address the pool has left
                    await conn.close()
                else:
                    self._idle.append(conn)
            self._slots.release()
            self._on_change()

    async def follow(self, config: dict[str, str]) -> bool:
        """Point new connections at the ConfigMap's address; returns whether it changed."""
        host, port = config.get("DATABASE_HOST"), config.get("DATABASE_PORT")
        if not host or not port:
            return False
        dsn = make_conninfo(self.base_dsn, host=host, port=port)
        if dsn == self.dsn:
            return False
        log.info("database address now %s:%s (from the ConfigMap)", host, port)
        self.dsn = dsn
        self.generation += 1
        await self.close()
        return True

    async def fetch(self, name: str) -> list[dict[str, Any]]:
        """Run one of the API's read queries."""
        async with self.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(QUERIES[name])
            return [{k: _jsonable(v) for k, v in row.items()} for row in await cur.fetchall()]

    async def close(self) -> None:
        """Close the idle connections (borrowed ones close when returned broken or at exit)."""
        while self._idle:
            await self._idle.pop().close()


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


class PressureHolder:
    """Keep a share of the pool busy with ``pg_sleep`` sessions (fault ``db_pool_pressure``)."""

    def __init__(self, pool: Pool, share: Callable[[], float]) -> None:
        self.pool = pool
        self.share = share
        self.tasks: list[asyncio.Task[None]] = []

    async def _hold(self, index: int, stop: asyncio.Event) -> None:
        while not stop.is_set() and index < round(self.share() * self.pool.max_size):
            try:
                async with self.pool.connection() as conn:
                    while not stop.is_set() and index < round(self.share() * self.pool.max_size):
                        await conn.execute("SELECT pg_sleep(0.5)")
            except (psycopg.Error, PoolTimeout, OSError):
                await asyncio.sleep(1.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Start or retire holders as the fault changes, until ``stop``."""
        while not stop.is_set():
            wanted = round(self.share() * self.pool.max_size)
            self.tasks = [t for t in self.tasks if not t.done()]
            for index in range(len(self.tasks), wanted):
                self.tasks.append(asyncio.create_task(self._hold(index, stop)))
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
