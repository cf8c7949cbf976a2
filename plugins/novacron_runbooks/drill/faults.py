"""The faults a drill injects: the primary's postmaster killed, a bad UPDATE, the application deleted.

Each returns the moment it struck (UTC) and what it did, for the drill's evidence. They run only after
:func:`novacron_runbooks.drill.target.require_drill_target` passed; none of them has a dry-run form because
the drill's dry run stops before them.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from novacron_runbooks.release.cluster import COLOURS, SERVICE, colour_deployment

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.release.cluster import ReleaseCluster

BAD_UPDATE = """
UPDATE hosts SET status = 'failed'
WHERE id IN (SELECT host_id FROM vms WHERE status = 'running')
"""
"""A botched maintenance script: every host that runs a VM marked failed (breaks the invariant
``no_running_vm_on_failed_host``, which the corruption runbook's detection checks)."""
CORRUPTED_TABLES = ("public.hosts",)


def postmaster_pid(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """Return the primary's postmaster PID and data directory (``postmaster.pid``'s first line).

    ``SHOW data_directory`` needs ``pg_read_all_settings`` (part of ``pg_monitor``); the pid file is read on
    the database host, which is where a drill's fault injection runs.
    """
    row = conn.execute("SHOW data_directory").fetchone()
    if row is None:
        raise RuntimeError("SHOW data_directory returned nothing")
    data_dir = str(row[0])
    first_line = (Path(data_dir) / "postmaster.pid").read_text().splitlines()[0]
    return int(first_line), data_dir


def kill_postmaster(pid: int) -> datetime:
    """SIGKILL the postmaster: no shutdown checkpoint, no goodbye to the replica, as in a host crash."""
    at = datetime.now(tz=UTC)
    os.kill(pid, signal.SIGKILL)
    return at


def bad_update(conn: psycopg.Connection[Any]) -> tuple[datetime, int]:
    """Run :data:`BAD_UPDATE` in one transaction; return its start (the last clean moment) and rows hit.

    ``now()`` is the transaction's start: nothing the UPDATE changed is visible before its commit, so a
    point-in-time restore to that moment holds every write acknowledged before the corruption.
    """
    with conn.transaction():
        row = conn.execute("SELECT now()").fetchone()
        if row is None:
            raise RuntimeError("SELECT now() returned nothing")
        cursor = conn.execute(BAD_UPDATE)
        return row[0], cursor.rowcount


def delete_application(cluster: ReleaseCluster) -> tuple[datetime, list[str]]:
    """Delete the API's colour Deployments and its Service, as a mistaken ``kubectl delete`` would."""
    at = datetime.now(tz=UTC)
    deleted = [f"deployment/{name}" for name in map(colour_deployment, COLOURS) if cluster.delete(name)]
    try:
        cluster.core.delete_namespaced_service(SERVICE, cluster.namespace)
        deleted.append(f"service/{SERVICE}")
    except ApiException as exc:
        if exc.status != 404:
            raise
    return at, deleted
