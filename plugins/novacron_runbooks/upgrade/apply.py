"""The upgrade on production, its verification, and the database's way back.

The database change runs while this run holds the database lock (``novacron-db``) for the statement's
duration, so no backup, restore or database runbook acts on the primary at the same moment; a holder found
there refuses the step with nothing changed. Verification asks the primary (version, pg_amcheck) and the
application's own role (the VM list). The way back is the plan's ``down`` step: recreate at the old version
where nothing depends on the extension, otherwise a person restores the rollback point.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
from novacron_runbooks.hooks.lease import LeaseLock
from novacron_runbooks.recovery import checks, verify
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment
from novacron_runbooks.upgrade import extension
from novacron_runbooks.upgrade.preflight import DATABASE_LOCK

if TYPE_CHECKING:
    from collections.abc import Iterator

DATABASE = "novacron"
LOCK_LEASE = timedelta(minutes=30)


@contextmanager
def database_lock(holder: str) -> Iterator[None]:
    """Hold ``novacron-db`` around one change; refuse (nothing changed) while another run holds it."""
    lock = LeaseLock(coordination_api(), namespace())
    state = lock.try_acquire(DATABASE_LOCK, holder, LOCK_LEASE)
    if state.holder != holder:
        raise AirflowFailException(
            f"lock {DATABASE_LOCK!r} is held by {state.holder}: the database is busy; nothing was changed"
        )
    try:
        yield
    finally:
        lock.release(DATABASE_LOCK, holder)


def upgrade_database(plan: dict[str, Any], holder: str) -> dict[str, Any]:
    """``ALTER EXTENSION ... UPDATE TO`` on the primary under the database lock (a retry finds it done)."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    primary = nodes.node(plan["primary"])
    began = time.monotonic()
    with database_lock(holder), nodes.programs.connect(primary, DATABASE) as conn:
        changed = extension.update(conn, plan["extension"], plan["target"])
        after = extension.state(conn, plan["extension"])
    seconds = round(time.monotonic() - began, 3)
    action = f"ALTER EXTENSION {plan['extension']} UPDATE TO '{plan['target']}'"
    if changed:
        evidence.change(primary.name, action, applied=True)
    else:
        evidence.note(
            f"{plan['extension']} already ran {plan['target']} (an earlier try): {action} not repeated"
        )
    evidence.measure("upgrade seconds", seconds, "pass")
    return {"version_after": after.installed, "seconds": seconds}


def verify_database(plan: dict[str, Any]) -> dict[str, Any]:
    """Check the primary runs the target, pg_amcheck is clean and the application's role reads the VM list."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    primary = nodes.node(plan["primary"])
    with nodes.programs.connect(primary, DATABASE) as conn:
        installed = extension.state(conn, plan["extension"]).installed
    version_ok = installed == plan["target"]
    evidence.measure(f"{plan['extension']} version", installed, "pass" if version_ok else "fail")
    amcheck_ok, output = checks.amcheck_live(nodes, primary, DATABASE)
    evidence.measure(
        "pg_amcheck --heapallindexed", output or "no corruption", "pass" if amcheck_ok else "fail"
    )
    with connect_primary() as conn:
        smoke_ok, smoke = verify.smoke(conn)
    evidence.measure("VM list with hosts (application role)", smoke, "pass" if smoke_ok else "fail")
    if not (version_ok and amcheck_ok and smoke_ok):
        raise AirflowFailException(
            f"verification failed: version {installed} (want {plan['target']}), amcheck ok={amcheck_ok}, "
            f"smoke {smoke}"
        )
    return {"version": installed, "smoke": smoke}


def rollback_database(plan: dict[str, Any], backup: str, holder: str) -> str:
    """Run the down step: recreate at the old version, or hand the restore of ``backup`` to a person."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    primary = nodes.node(plan["primary"])
    name, old = plan["extension"], plan["from_version"]
    with nodes.programs.connect(primary, DATABASE) as conn:
        installed = extension.state(conn, name).installed
        if installed == old:
            evidence.note(f"{name} still runs {old}: nothing to roll back")
            return "nothing to roll back"
        if plan["down"] != "recreate" or extension.dependents(conn, name):
            raise AirflowFailException(
                f"{name} cannot be put back to {old} in place: restore backup {backup} "
                "(restore runbook, target production, with an approval)"
            )
        with database_lock(holder):
            extension.recreate(conn, name, old, plan["schema"])
        back = extension.state(conn, name).installed
    evidence.change(
        primary.name, f"DROP EXTENSION {name}; CREATE EXTENSION {name} VERSION '{old}'", applied=True
    )
    evidence.measure(f"{name} version after the rollback", back, "pass" if back == old else "fail")
    if back != old:
        raise AirflowFailException(f"rollback left {name} at {back}, not {old}: restore backup {backup}")
    return f"{name} back to {old}"


def verify_dependencies(plan: dict[str, Any]) -> dict[str, Any]:
    """Stable runs the new image (the canary promoted it) and the whole service is under the error ceiling."""
    evidence = current_evidence()
    cluster = ReleaseCluster()
    active = cluster.active_colour()
    stable = cluster.require(colour_deployment(active))
    ok = stable.image == plan["target"] and stable.rolled_out
    evidence.measure(f"{colour_deployment(active)} image", stable.image, "pass" if ok else "fail")
    if not ok:
        raise AirflowFailException(
            f"verification failed: {colour_deployment(active)} runs {stable.image}, not {plan['target']}"
        )
    actions.require_service_healthy(catalog_runbook("canary").threshold("error_rate").value, "the upgrade")
    return {"active": active, "image": stable.image}


def rollback_dependencies(plan: dict[str, Any]) -> str:
    """Nothing to do when stable still runs the old image (the canary removed itself); else say who acts."""
    cluster = ReleaseCluster()
    stable = cluster.require(colour_deployment(cluster.active_colour()))
    if stable.image == plan["from_version"]:
        current_evidence().note(
            f"stable still runs {stable.image}: the canary removed itself, nothing to undo"
        )
        return f"stable untouched on {stable.image}"
    raise AirflowFailException(
        f"stable runs {stable.image} after a failed verification: run the rollback runbook "
        "(target_revision previous) to go back to " + str(plan["from_version"])
    )
