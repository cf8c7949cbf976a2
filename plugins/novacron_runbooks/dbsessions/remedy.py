"""The database-issues remediation policy and the signals that carry it out.

Policy (thresholds from the catalog, shortened per run by params):

- an **active** statement running longer than ``long_query`` seconds is cancelled (``pg_cancel_backend``):
  the session survives, its transaction rolls back, and any lock it held is released;
- a session **idle in transaction** longer than ``idle_in_transaction`` seconds is terminated
  (``pg_terminate_backend``) only after an approval: cancelling does nothing to an idle session, and
  terminating one drops its connection;
- tables with more than ``stale_statistics`` of their rows modified since the last analyze get ``ANALYZE``.

A signal names the session by ``pid`` *and* the ``backend_start``/``query_start`` seen at diagnosis, in one
statement: a pid reused by a new connection, or a statement that ended and was followed by another, is left
alone. Signalling again what is already gone is a no-op, so a retried step is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.dbsessions.activity import Session

Signal = Literal["cancel", "terminate"]
_FUNCTIONS: dict[Signal, str] = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}
STALE_TABLES = """
SELECT schemaname, relname, n_mod_since_analyze, greatest(n_live_tup, 1)
FROM pg_stat_user_tables
WHERE n_mod_since_analyze > %s * greatest(n_live_tup, 1) AND n_mod_since_analyze > 0
ORDER BY n_mod_since_analyze DESC
"""


@dataclass(frozen=True)
class Thresholds:
    long_query_seconds: float
    idle_in_transaction_seconds: float
    stale_ratio: float


def to_cancel(sessions: list[Session], limits: Thresholds) -> list[Session]:
    """Active statements over the long-query threshold (blockers first: they release the most).

    A statement that is only waiting for locks held by statements being cancelled is left alone: it was
    never the slow one, and it resumes once they are gone (along a chain, only its root is cancelled).
    """
    blocking = {pid for s in sessions for pid in s.blocked_by}
    over = [s for s in sessions if s.state == "active" and s.query_seconds > limits.long_query_seconds]
    chosen = {s.pid for s in over}
    own = [s for s in over if not (s.blocked_by and set(s.blocked_by) <= chosen)]
    return sorted(own, key=lambda s: (s.pid not in blocking, -s.query_seconds))


def to_terminate(sessions: list[Session], limits: Thresholds) -> list[Session]:
    """Sessions idle in transaction over the threshold (they hold their locks and snapshot until ended)."""
    return [
        s
        for s in sessions
        if s.state.startswith("idle in transaction") and s.state_seconds > limits.idle_in_transaction_seconds
    ]


def signal(conn: psycopg.Connection[Any], session: Session, kind: Signal) -> bool:
    """Signal ``session`` if it is still the one diagnosed; return whether a signal was delivered."""
    from psycopg import sql

    query = sql.SQL(
        "SELECT {}(pid) FROM pg_stat_activity"
        " WHERE pid = %s AND backend_start::text = %s AND coalesce(query_start::text, '') = %s"
    ).format(sql.Identifier(_FUNCTIONS[kind]))
    row = conn.execute(query, (session.pid, session.backend_start, session.query_start)).fetchone()
    return bool(row and row[0])


def stale_tables(conn: psycopg.Connection[Any], ratio: float) -> list[dict[str, Any]]:
    rows = conn.execute(STALE_TABLES, (ratio,)).fetchall()
    return [
        {
            "table": f"{r[0]}.{r[1]}",
            "schema": str(r[0]),
            "name": str(r[1]),
            "modified": int(r[2]),
            "rows": int(r[3]),
        }
        for r in rows
    ]


def analyze(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))


def session_from(raw: dict[str, Any]) -> Session:
    """Rebuild a diagnosed session from its XCom summary."""
    from novacron_runbooks.dbsessions.activity import Session

    fields = {**raw, "blocked_by": tuple(raw.get("blocked_by") or ())}
    return Session(**fields)


def count_by_state(sessions: list[Session]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for session in sessions:
        counts[session.state or "unknown"] = counts.get(session.state or "unknown", 0) + 1
    return counts


def top_statements(conn: psycopg.Connection[Any], limit: int = 5) -> list[str]:
    """List the statements with the highest mean time (``pg_stat_statements``; none when not installed)."""
    installed = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
    if not installed:
        return []
    rows = conn.execute(
        "SELECT calls, round(mean_exec_time::numeric, 1), left(regexp_replace(query, '\\s+', ' ', 'g'), 100)"
        " FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY mean_exec_time DESC LIMIT %s",
        (limit,),
    ).fetchall()
    return [f"{r[1]} ms × {r[0]}: {r[2]}" for r in rows]


def replication_lag(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Per standby: state and replay lag as the primary sees it (``pg_stat_replication``)."""
    rows = conn.execute(
        "SELECT application_name, state, coalesce(extract(epoch FROM replay_lag), 0)::float8,"
        " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication"
    ).fetchall()
    return [
        {
            "standby": str(r[0]),
            "state": str(r[1]),
            "replay_lag_seconds": round(float(r[2]), 2),
            "bytes_behind": r[3],
        }
        for r in rows
    ]
