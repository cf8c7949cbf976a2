"""What the upgrade will do, read from the live system before anything changes.

The param check already refused what the supported-upgrades table does not list; the plan checks what only
the live system can tell: the extension is installed and an update path leads to the target, or the image
is not already live and the service is healthy enough for a canary. A target already in place ends the run
as a skip (nothing to do), never as a second upgrade.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.release import actions
from novacron_runbooks.release.canary import step_plan, worst_case_abort_seconds
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment
from novacron_runbooks.upgrade import extension
from novacron_runbooks.upgrade.supported import supported

DATABASE = "novacron"


def canary_defaults() -> dict[str, Any]:
    """Return the canary runbook's own defaults: the upgrade's child run takes them as they are."""
    params = catalog_runbook("canary").params
    return {key: params[key]["default"] for key in ("steps", "interval_seconds", "analysis")}


def plan_database(params: dict[str, Any]) -> dict[str, Any]:
    """Read the extension on the primary and the update path to the target; refuse what cannot run."""
    evidence = current_evidence()
    name, target = str(params["extension"]), str(params["target_version"])
    nodes = DatabaseNodes.from_connection()
    primary = nodes.primary()
    if primary is None:
        raise AirflowFailException("preflight: no database node accepts writes: nothing to upgrade safely")
    with nodes.programs.connect(primary, DATABASE) as conn:
        found = extension.state(conn, name)
        path = None
        if found.installed is not None and found.installed != target:
            path = extension.update_path(conn, name, found.installed, target)
        blockers = extension.dependents(conn, name)
    evidence.measure(f"{name} on {primary.name}", found.to_json(), "pass")
    if found.installed is None:
        raise AirflowFailException(
            f"preflight: extension {name} is not installed in database {DATABASE}: nothing to upgrade"
        )
    if found.installed == target:
        raise AirflowSkipException(f"{name} already runs {target} on {primary.name}: nothing to upgrade")
    if path is None:
        raise AirflowFailException(
            f"preflight: PostgreSQL has no update path for {name} from {found.installed} to {target} "
            "(a downgrade, or a version this server's packages do not ship)"
        )
    rule = supported().extensions[name]
    evidence.note(f"{name} {found.installed} → {target} on {primary.name} through {path}")
    return {
        "component": "database",
        "what": f"extension {name} {found.installed} → {target}",
        "primary": primary.name,
        "extension": name,
        "schema": found.schema,
        "from_version": found.installed,
        "target": target,
        "path": path,
        "down": rule.down if not blockers else "restore",
        "dependents": blockers,
    }


def plan_dependencies(params: dict[str, Any]) -> dict[str, Any]:
    """Read the live release and size the canary; refuse an image already live or an unhealthy service."""
    evidence = current_evidence()
    image = str(params["target_version"])
    cluster = ReleaseCluster()
    active = cluster.active_colour()
    stable = cluster.require(colour_deployment(active))
    if stable.image == image:
        raise AirflowSkipException(f"{image} is already live on {active}: nothing to upgrade")
    canary = catalog_runbook("canary")
    actions.require_service_healthy(canary.threshold("error_rate").value, "an upgrade")
    values = canary_defaults()
    worst = worst_case_abort_seconds(values, canary)
    steps = step_plan(stable.replicas, values["steps"])
    evidence.note(
        f"{stable.image} → {image} on {active} through a canary, steps {values['steps']} every "
        f"{values['interval_seconds']} s; worst-case abort {worst:.0f} s"
    )
    return {
        "component": "dependencies",
        "what": f"application image {stable.image} → {image}",
        "active": active,
        "from_version": stable.image,
        "target": image,
        "canary": {**values, "step_plan": steps, "worst_case_abort_seconds": round(worst, 1)},
        "down": "canary",
    }


def rollback_text(planned: dict[str, Any], backup: str) -> str:
    """Describe the database's way back, for the approval and the report."""
    return extension.down_step(
        planned["extension"], planned["from_version"], planned["schema"], planned["down"], backup
    )
