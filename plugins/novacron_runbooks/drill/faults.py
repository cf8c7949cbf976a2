"""The faults a drill injects: the primary's postmaster killed, a bad UPDATE, the application deleted.

Each returns the moment it struck (UTC) and what it did, for the drill's evidence. They run only after
:func:`novacron_runbooks.drill.target.require_drill_target` passed; none of them has a dry-run form because
the drill's dry run stops before them.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from novacron_runbooks.release.cluster import COLOURS, SERVICE, colour_deployment

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.database.nodes import DatabaseNodes
    from novacron_runbooks.release.cluster import ReleaseCluster

BAD_UPDATE = """
UPDATE hosts SET status = 'failed'
WHERE id IN (SELECT host_id FROM vms WHERE status = 'running')
"""
"""A botched maintenance script: every host that runs a VM marked failed (breaks the invariant
``no_running_vm_on_failed_host``, which the corruption runbook's detection checks)."""
CORRUPTED_TABLES = ("public.hosts",)


def kill_primary_postmaster(nodes: DatabaseNodes) -> tuple[datetime, str, int]:
    """SIGKILL the primary's postmaster on its host: no shutdown checkpoint, no goodbye to the replica.

    The pid is ``postmaster.pid``'s first line, read over the host's SSH connection; the kill runs there
    too, as the database's OS user that owns the process. Returns the moment, the node and the pid.
    """
    primary = nodes.primary()
    if primary is None:
        raise RuntimeError("no node accepts writes: nothing to kill")
    host = nodes.programs.host(primary)
    pid_file = posixpath.join(primary.data_dir, "postmaster.pid")
    pid = int(host.read_text(pid_file).splitlines()[0])
    at = datetime.now(tz=UTC)
    host.run(["kill", "-KILL", str(pid)], what=f"SIGKILL postmaster {pid}", timeout=30)
    return at, primary.name, pid


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
    from kubernetes.client.exceptions import ApiException

    at = datetime.now(tz=UTC)
    deleted = [f"deployment/{name}" for name in map(colour_deployment, COLOURS) if cluster.delete(name)]
    try:
        cluster.core.delete_namespaced_service(SERVICE, cluster.namespace)
        deleted.append(f"service/{SERVICE}")
    except ApiException as exc:
        if exc.status != 404:
            raise
    return at, deleted
