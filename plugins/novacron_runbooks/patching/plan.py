"""The security patch's plan: which workload goes by which path, and what must stay as it is.

The live colour of the NovaCron API follows the hotfix path (a release record in the deployment history, a
rolling update, the release gate on the patched version's own requests, the undo on failure). Every other
affected Deployment (the idle colour, a canary, the DWCP agents, ...) gets a rolling update and a readiness
wait. An affected workload of a kind the runbook does not roll, and a pod no workload owns, are listed for a
person: the run cannot end green while they run the CVE.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from novacron_runbooks.patching.inventory import PATCHABLE
from novacron_runbooks.release.cluster import colour_deployment
from novacron_runbooks.release.gates import image_version

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.patching.inventory import Finding, Scan


def approval_window(runbook: Runbook, severity: str) -> timedelta:
    """Return the catalog's approval window for ``severity``: shorter when more severe."""
    return timedelta(minutes=runbook.threshold(f"approval_timeout_{severity}").value)


def _change(finding: Finding, patched: str) -> dict[str, Any]:
    containers = [
        {"name": c.name, "init": c.init, "old_image": c.image, "why": c.why}
        for c in finding.containers
        if c.image != patched
    ]
    return {
        "kind": finding.kind,
        "name": finding.name,
        "replicas": finding.replicas,
        "containers": containers,
        "pods": finding.pods,
    }


def build_plan(found: Scan, active_colour: str, live_image: str, params: dict[str, Any]) -> dict[str, Any]:
    """Split the affected workloads by path; ``live_image`` is what the active colour runs now."""
    patched = params["patched_image"]
    live = colour_deployment(active_colour)
    application, workloads, unpatchable = None, [], []
    for finding in found.affected:
        change = _change(finding, patched)
        if finding.kind not in PATCHABLE:
            unpatchable.append(change)
        elif finding.name == live:
            application = change
        else:
            workloads.append(change)
    # the gate judges the patched release's own requests when the API is patched, else the live release's
    version = image_version(patched if application else live_image)
    return {
        "cve_id": params["cve_id"],
        "severity": params["severity"],
        "patched_image": patched,
        "active_colour": active_colour,
        "application": application,
        "workloads": workloads,
        "unpatchable": unpatchable,
        "unowned_pods": found.unowned_pods,
        "untouched": found.untouched,
        "version": version,
    }


def patched_workloads(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """List the workloads the run changes, the application first."""
    return ([plan["application"]] if plan["application"] else []) + list(plan["workloads"])


def describe_containers(change: dict[str, Any], patched: str) -> str:
    """Say what changes in one workload: ``agent img:2.1.0 → img:2.1.1 (tag 2.1.0)``."""
    parts = [
        f"{'init ' if c['init'] else ''}{c['name']} {c['old_image']} → {patched} ({c['why']})"
        for c in change["containers"]
    ]
    return "; ".join(parts) or "mid-rollout to the patched image"


def describe(change: dict[str, Any], patched: str) -> str:
    """One line of the plan for people: ``Deployment/dwcp-agent: agent img:2.1.0 → img:2.1.1 (tag 2.1.0)``."""
    return f"{change['kind']}/{change['name']}: {describe_containers(change, patched)}"


def summary(plan: dict[str, Any]) -> str:
    """Render the plan as Markdown lines for the approval request and the report."""
    patched = plan["patched_image"]
    lines = [f"- {describe(c, patched)}" for c in patched_workloads(plan)]
    lines += [f"- NOT PATCHED (patch by hand): {describe(c, patched)}" for c in plan["unpatchable"]]
    lines += [f"- NOT PATCHED (no workload owns it): pod {p}" for p in plan["unowned_pods"]]
    return "\n".join(lines) or "- nothing runs an affected image"
