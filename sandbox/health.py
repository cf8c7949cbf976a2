"""Is each sandbox component really usable? One check per component, each returning ``(ok, detail)``.

A listening port is not enough: the primary must accept writes, the replica must be *streaming*, the exporter
must reach the database, and the HTTP services must say they are ready.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import psycopg

from sandbox import hosts, pgbackrest, ssh
from sandbox.postgres import standby, writable

if TYPE_CHECKING:
    from collections.abc import Callable

    from sandbox.layout import Layout

Check = tuple[bool, str]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """Status and body of ``GET url``; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URLs we built
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return 0, ""


def _http(layout: Layout, component: str, path: str) -> Check:
    status, _ = http_get(layout.url(component) + path)
    return status == 200, f"GET {path} → {status or 'no answer'}"


def pg_primary(layout: Layout) -> Check:
    try:
        with writable(layout).connect() as conn:
            row = conn.execute(
                "SELECT pg_is_in_recovery(),"
                " (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming')"
            ).fetchone()
    except psycopg.Error as exc:
        return False, f"no connection: {str(exc).strip().splitlines()[0]}"
    assert row is not None
    if row[0]:
        return False, "in recovery: not accepting writes"
    return True, f"accepting writes, {row[1]} streaming replica(s)"


def pg_replica(layout: Layout) -> Check:
    try:
        with standby(layout).connect() as conn:
            row = conn.execute(
                "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver),"
                " coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)"
            ).fetchone()
    except psycopg.Error as exc:
        return False, f"no connection: {str(exc).strip().splitlines()[0]}"
    assert row is not None
    if not row[0]:
        return False, "not in recovery (promoted?)"
    if row[1] != "streaming":
        return False, f"wal receiver: {row[1] or 'not running'}"
    return True, f"streaming, last replayed transaction {float(str(row[2])):.0f}s ago"


def pg_exporter(layout: Layout) -> Check:
    status, body = http_get(layout.url("pg_exporter") + "/metrics")
    if status != 200:
        return False, f"GET /metrics → {status or 'no answer'}"
    return ("\npg_up 1" in body), ("pg_up 1" if "\npg_up 1" in body else "pg_up is not 1: no database")


def backups(layout: Layout) -> Check:
    try:
        return pgbackrest.health(layout)
    except Exception as exc:  # noqa: BLE001 - a status line must never crash the status table
        return False, str(exc).splitlines()[0]


def _transport(component: str) -> Callable[[Layout], Check]:
    host = hosts.by_component(component)
    if component == host.sshd:
        return lambda layout: ssh.healthy(layout, host)
    return lambda layout: pgbackrest.server_healthy(layout, host)


CHECKS: dict[str, Callable[[Layout], Check]] = {
    **{name: _transport(name) for name in hosts.TRANSPORTS},
    "pg_primary": pg_primary,
    "pgbackrest": backups,
    "pg_replica": pg_replica,
    "k8s": lambda layout: _http(layout, "k8s", "/healthz"),
    "receivers": lambda layout: _http(layout, "receivers", "/healthz"),
    "standin": lambda layout: _http(layout, "standin", "/healthz"),
    "pg_exporter": pg_exporter,
    "alertmanager": lambda layout: _http(layout, "alertmanager", "/-/ready"),
    "pushgateway": lambda layout: _http(layout, "pushgateway", "/-/ready"),
    "statsd_exporter": lambda layout: _http(layout, "statsd_exporter", "/healthz"),
    "prometheus": lambda layout: _http(layout, "prometheus", "/-/ready"),
}


def check(layout: Layout, component: str) -> Check:
    return CHECKS[component](layout)
