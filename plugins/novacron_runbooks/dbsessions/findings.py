"""Read-only database diagnostics turned into findings, each naming the runbook to run next.

The readers query the statistics views only (``pg_stat_user_tables``, ``pg_stat_user_indexes``,
``pg_locks``, ``pg_stat_replication``, ``pg_stat_activity``); the rules that turn numbers into findings are
plain functions so they can be read and tested apart from the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from novacron_runbooks.diagnostics.findings import Finding

if TYPE_CHECKING:
    import psycopg

MIN_ROWS_FOR_SEQ_SCAN = 10_000
DEAD_TUPLE_SHARE = 0.2
CONNECTION_SHARE = 0.8

TABLES = """
SELECT schemaname || '.' || relname, seq_scan, coalesce(idx_scan, 0), n_live_tup, n_dead_tup,
       pg_total_relation_size(relid), coalesce(last_autovacuum::text, last_vacuum::text, 'never')
FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC
"""
UNUSED_INDEXES = """
SELECT s.schemaname || '.' || s.indexrelname, s.relname, pg_relation_size(s.indexrelid)
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY pg_relation_size(s.indexrelid) DESC
"""
LOCK_WAITS = "SELECT count(*) FROM pg_locks WHERE NOT granted"
CONNECTIONS = """
SELECT count(*), current_setting('max_connections')::int
FROM pg_stat_activity WHERE backend_type = 'client backend'
"""


def read_tables(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    keys = ("table", "seq_scan", "idx_scan", "live", "dead", "bytes", "last_vacuum")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(TABLES).fetchall()]


def read_unused_indexes(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    keys = ("index", "table", "bytes")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(UNUSED_INDEXES).fetchall()]


def read_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    waits = conn.execute(LOCK_WAITS).fetchone()
    connections = conn.execute(CONNECTIONS).fetchone()
    return {
        "lock_waits": int(waits[0]) if waits else 0,
        "connections": int(connections[0]) if connections else 0,
        "max_connections": int(connections[1]) if connections else 0,
    }


def table_findings(tables: list[dict[str, Any]]) -> list[Finding]:
    """Large tables read mostly by sequential scans (an index missing?) and tables full of dead rows."""
    found = []
    for t in tables:
        if t["live"] >= MIN_ROWS_FOR_SEQ_SCAN and t["seq_scan"] > t["idx_scan"]:
            found.append(
                Finding(
                    "warning",
                    f"{t['table']}: mostly sequential scans",
                    f"{t['seq_scan']} sequential vs {t['idx_scan']} index scans over {t['live']} rows; "
                    "check the plans below for a missing index",
                )
            )
        total = t["live"] + t["dead"]
        if total and t["dead"] / total > DEAD_TUPLE_SHARE:
            found.append(
                Finding(
                    "warning",
                    f"{t['table']}: {t['dead'] / total:.0%} dead rows (bloat)",
                    f"{t['dead']} dead of {total} rows, last vacuum {t['last_vacuum']}; VACUUM it",
                )
            )
    return found


def replication_findings(standbys: list[dict[str, Any]], max_lag_seconds: float) -> list[Finding]:
    if not standbys:
        return [
            Finding("critical", "no streaming replica", "pg_stat_replication is empty", "dr_database_failure")
        ]
    return [
        Finding(
            "warning",
            f"replica {s['standby']} lags {s['replay_lag_seconds']} s",
            f"{s['bytes_behind']} bytes behind, state {s['state']}",
            "database_issues",
        )
        for s in standbys
        if s["replay_lag_seconds"] > max_lag_seconds or s["state"] != "streaming"
    ]
