"""The rehearsal: the rollback point restored into the scratch instance, the upgrade applied there, checked.

Restoring the rollback point first proves the way back exists before the way forward is taken. On the copy
the database upgrade runs exactly as it will on the primary (:mod:`upgrade.extension`), then pg_amcheck and
the application's smoke query judge it; the extension's version on the copy must match production's before
the update, or the copy is not a rehearsal of production. An application image cannot be started outside the
cluster, so for dependencies the copy proves the backup restores and reads, and the canary's plan (sizes,
worst-case abort) was computed by the preflight. The scratch copy is removed by the DAG's teardown task.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.recovery import steps
from novacron_runbooks.upgrade import extension

DATABASE = "novacron"


def restore_copy(label: str) -> float:
    """Restore ``label`` into a clean scratch instance and start it; return the seconds it took."""
    copy = steps.scratch()
    copy.remove()  # a retry after a half-done restore starts clean (only a copy this code made)
    began = time.monotonic()
    copy.restore(PgBackRestHook(), label)
    copy.start()
    seconds = round(time.monotonic() - began, 2)
    evidence = current_evidence()
    evidence.change(str(copy.data_dir), f"{label} restored, port {copy.port}", applied=True)
    evidence.measure("restore to a writable copy seconds", seconds, "pass")
    return seconds


def update_copy(plan: dict[str, Any]) -> dict[str, Any]:
    """Apply the extension update on the copy as on the primary; fail unless it lands on the target."""
    evidence = current_evidence()
    name, target = plan["extension"], plan["target"]
    began = time.monotonic()
    with steps.scratch().connect(DATABASE) as conn:
        before = extension.state(conn, name)
        if before.installed != plan["from_version"]:
            raise AirflowFailException(
                f"rehearsal: the copy runs {name} {before.installed}, production {plan['from_version']}: "
                "the backup does not hold production's state, so this is no rehearsal"
            )
        extension.update(conn, name, target)
        after = extension.state(conn, name)
    seconds = round(time.monotonic() - began, 3)
    ok = after.installed == target
    evidence.measure(f"{name} on the copy after the update", after.installed, "pass" if ok else "fail")
    evidence.change("scratch instance", f"ALTER EXTENSION {name} UPDATE TO '{target}'", applied=True)
    if not ok:
        raise AirflowFailException(f"rehearsal: {name} on the copy runs {after.installed}, not {target}")
    return {"update_seconds": seconds, "version_after": after.installed}


def rehearse(plan: dict[str, Any], backup: dict[str, Any]) -> dict[str, Any]:
    """Restore, upgrade (database) and check the copy; return the result the approval shows."""
    began = time.monotonic()
    result: dict[str, Any] = {"backup": backup["label"], "restore_seconds": restore_copy(backup["label"])}
    if plan["component"] == "database":
        result.update(update_copy(plan))
    result.update(steps.verify_copy())
    result["rehearsal_seconds"] = round(time.monotonic() - began, 2)
    current_evidence().metric("rehearsal_seconds", result["rehearsal_seconds"])
    result["summary"] = summary(plan, result)
    return result


def summary(plan: dict[str, Any], result: dict[str, Any]) -> str:
    """One line for the approval and Slack: what was rehearsed, on what, how long, what the checks said."""
    upgraded = (
        f"{plan['what']} applied on the copy in {result['update_seconds']} s"
        if plan["component"] == "database"
        else "the copy restores and reads (the image itself goes out as a canary)"
    )
    smoke = result.get("smoke") or {}
    return (
        f"backup {result['backup']} restored in {result['restore_seconds']} s; {upgraded}; pg_amcheck clean; "
        f"VM list {smoke.get('rows')} rows of {smoke.get('vms')} VMs; rehearsal took "
        f"{result['rehearsal_seconds']} s"
    )
