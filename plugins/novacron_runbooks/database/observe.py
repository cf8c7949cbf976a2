"""What a failover runbook reads from the platform: Prometheus's view of the primary, the replicas' WAL
positions, and whether the application reads and writes again once repointed.

Every wait here is bounded and every read that cannot be made counts against going on (fail closed).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections
from novacron_runbooks.database.failover import ReplicaState, parse_lsn, unreplayed_bytes
from novacron_runbooks.hooks.prometheus import PrometheusError, PrometheusHook

if TYPE_CHECKING:
    from novacron_runbooks.database.nodes import DatabaseNodes, Node

PG_UP = 'pg_up{job="postgres"}'
"""The exporter's view of the primary (``PostgresPrimaryDown`` alerts on it too)."""
PG_UP_WAIT_SECONDS = 20.0
STREAM_STOP_WAIT_SECONDS = 20.0
CATCHUP_SECONDS = 30.0
API_WAIT_SECONDS = 60.0
CONNECT_TIMEOUT = 5


def pg_up(wait: float = PG_UP_WAIT_SECONDS) -> tuple[float | None, str | None]:
    """Return ``(pg_up, error)``: the value once it reads 0 (or is absent), or the last one after ``wait``."""
    hook = PrometheusHook(connections.PROMETHEUS)
    deadline = time.monotonic() + wait
    while True:
        try:
            values = hook.query(PG_UP).values
        except PrometheusError as exc:
            return None, str(exc)
        value = min(values) if values else None
        if value is None or value == 0 or time.monotonic() >= deadline:
            return value, None
        time.sleep(1.0)


def first_seen_down(window_seconds: float = 1800, step_seconds: float = 2.0) -> datetime | None:
    """Return when Prometheus first saw ``pg_up`` at 0 after it was last 1: the loss is no later than that.

    ``None`` when it cannot tell (no such change in the window, or Prometheus cannot be asked).
    """
    end = datetime.now(tz=UTC)
    try:
        series = (
            PrometheusHook(connections.PROMETHEUS)
            .query_range(PG_UP, end - timedelta(seconds=window_seconds), end, step_seconds)
            .series
        )
    except PrometheusError:
        return None
    lowest: dict[float, float] = {}
    for one in series:
        for at, value in one.points:
            lowest[at] = min(value, lowest.get(at, value))
    last_up = max((at for at, value in lowest.items() if value == 1), default=None)
    if last_up is None:
        return None
    down = min((at for at, value in lowest.items() if value == 0 and at > last_up), default=None)
    return datetime.fromtimestamp(down, tz=UTC) if down is not None else None


def streaming_replicas(nodes: DatabaseNodes, wait: float = STREAM_STOP_WAIT_SECONDS) -> list[str]:
    """Replicas whose WAL receiver still streams, after giving them ``wait`` seconds to notice a loss."""
    import psycopg

    deadline = time.monotonic() + wait
    while True:
        found = []
        for node in nodes.replicas():
            try:
                if nodes.streaming(node):
                    found.append(node.name)
            except psycopg.Error:
                continue
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def replica_state(nodes: DatabaseNodes, node: Node) -> ReplicaState:
    with nodes.programs.connect(node) as conn:
        row = conn.execute(
            "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
            " pg_last_xact_replay_timestamp()"
        ).fetchone()
    assert row is not None
    received, replayed, last_at = row
    return ReplicaState(
        node.name,
        parse_lsn(received) if received else None,
        parse_lsn(replayed) if replayed else 0,
        last_at,
    )


def settled_replica(
    nodes: DatabaseNodes, node: Node, archived_end: int | None, wait: float = CATCHUP_SECONDS
) -> ReplicaState:
    """Give the replica ``wait`` seconds to replay what it received and fetch what the archive holds."""
    deadline = time.monotonic() + wait
    while True:
        state = replica_state(nodes, node)
        if not unreplayed_bytes(state, archived_end) or time.monotonic() >= deadline:
            return state
        time.sleep(0.5)


def verify_database(host: str, port: int, actor: str) -> dict[str, Any]:
    """Read and write at ``host:port`` as the application's role; return what was read and written."""
    import psycopg

    conn = BaseHook.get_connection(connections.DATABASE)
    with psycopg.connect(
        host=host,
        port=port,
        user=conn.login,
        password=conn.password,
        dbname=conn.schema,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
    ) as db:
        row = db.execute(
            "INSERT INTO audit_log (actor, action, entity, entity_id, details)"
            " VALUES (%s, 'database-recovered', 'host', 0, '{}'::jsonb) RETURNING id",
            (actor,),
        ).fetchone()
        assert row is not None
        found = db.execute("SELECT count(*) FROM audit_log WHERE id = %s", (row[0],)).fetchone()
        vms = db.execute("SELECT count(*) FROM vms").fetchone()
        writable = db.execute("SELECT NOT pg_is_in_recovery()").fetchone()
    return {
        "audit_id": row[0],
        "read_back": bool(found and found[0] == 1),
        "vms": int(vms[0]) if vms else 0,
        "writable": bool(writable and writable[0]),
        "at": datetime.now(tz=UTC).isoformat(),
    }


def verify_api(wait: float = API_WAIT_SECONDS) -> dict[str, Any]:
    """``GET /api/v1/vms`` through the API until it answers 200 with VMs (the pods reconnect first)."""
    import requests
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=connections.NOVACRON_API)
    session = hook.get_conn()
    url = hook.base_url.rstrip("/") + "/api/v1/vms"
    deadline = time.monotonic() + wait
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = session.get(url, timeout=5)
            if resp.status_code == 200 and int(resp.json().get("count", 0)) > 0:
                return {"status": 200, "count": int(resp.json()["count"])}
            last = f"{resp.status_code} {resp.text[:200]}"
        except (requests.RequestException, ValueError) as exc:
            last = type(exc).__name__
        time.sleep(1.0)
    return {"status": None, "last": last}
