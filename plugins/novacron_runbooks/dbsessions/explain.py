"""EXPLAIN the heaviest statements ``pg_stat_statements`` recorded, without running any of them.

``pg_stat_statements`` keeps statements normalised (``WHERE id = $1``), which plain ``EXPLAIN`` refuses.
PostgreSQL 16 has ``EXPLAIN (GENERIC_PLAN)``; for 15 and older the classic way is to ``PREPARE`` the text and
``EXPLAIN EXECUTE`` it with NULL arguments under ``plan_cache_mode = force_generic_plan``, which yields the
same parameter-independent plan. Neither form executes the statement, and everything runs inside a READ ONLY
transaction with a statement timeout, so a writing statement is planned, never run; ``EXPLAIN ANALYZE`` is
never used. Only plannable statements are taken (SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, VALUES, TABLE;
never DDL or utility commands). Each statement gets its own savepoint: one that fails to plan is reported
and the rest go on.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg
    from psycopg import sql

TOP_BY_TOTAL_TIME = """
SELECT queryid, calls, total_exec_time, mean_exec_time, rows, query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ~* '^\\s*(select|insert|update|delete|merge|with|values|table)\\M'
ORDER BY total_exec_time DESC
LIMIT %s
"""
_PARAM = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Plan:
    """One statement and its generic plan (or why it could not be planned)."""

    queryid: int
    calls: int
    total_ms: float
    mean_ms: float
    query: str
    plan: list[str]
    error: str | None

    @property
    def seq_scans(self) -> list[str]:
        return [line.strip() for line in self.plan if "Seq Scan on" in line]


@contextlib.contextmanager
def read_only(conn: psycopg.Connection[Any], timeout_seconds: float) -> Iterator[None]:
    """Open the diagnostics transaction: READ ONLY, with a local statement timeout."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_seconds * 1000)}",))
        yield


def top_statements(conn: psycopg.Connection[Any], limit: int) -> list[tuple[Any, ...]]:
    installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
    return list(conn.execute(TOP_BY_TOTAL_TIME, (limit,)).fetchall()) if installed else []


def explain(conn: psycopg.Connection[Any], row: tuple[Any, ...]) -> Plan:
    """Return the generic plan of one normalised statement, inside the caller's read-only transaction."""
    import psycopg
    from psycopg import sql

    queryid, calls, total, mean, _rows, query = row
    query = str(query).strip().rstrip(";")
    params = max((int(n) for n in _PARAM.findall(query)), default=0)
    name = sql.Identifier(f"novacron_diag_{abs(int(queryid))}")
    plan: list[str] = []
    error: str | None = "not planned: the recorded text holds more than one statement"
    attempts: tuple[str | None, ...] = () if ";" in query else (None, "bigint", "text")
    # Normalised constants lose their types ($2 in generate_series($2, $3) is "unknown"); when PostgreSQL
    # cannot infer them, try again with every parameter declared bigint, then text.
    for types in attempts:
        try:
            plan = _generic_plan(conn, name, query, params, types)
            error = None
            break
        except psycopg.Error as exc:
            error = str(exc).splitlines()[0]
    return Plan(int(queryid), int(calls), round(float(total), 1), round(float(mean), 2), query, plan, error)


def _generic_plan(
    conn: psycopg.Connection[Any], name: sql.Identifier, query: str, params: int, types: str | None
) -> list[str]:
    from psycopg import sql

    with conn.transaction():  # a savepoint: one statement that cannot be planned spares the others
        conn.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        declared = (
            sql.SQL("({})").format(sql.SQL(", ").join([sql.SQL(types)] * params))
            if types and params
            else sql.SQL("")
        )
        # The text is the database's own record of a statement it already ran. PREPARE plans it and EXPLAIN
        # EXECUTE shows the plan; nothing executes it, and the transaction is READ ONLY.
        conn.execute(sql.SQL("PREPARE {}{} AS {}").format(name, declared, sql.SQL(query)))
        args = sql.SQL("({})").format(sql.SQL(", ").join([sql.NULL] * params)) if params else sql.SQL("")
        explained = conn.execute(sql.SQL("EXPLAIN EXECUTE {}{}").format(name, args)).fetchall()
        conn.execute(sql.SQL("DEALLOCATE {}").format(name))
    return [str(row[0]) for row in explained]
