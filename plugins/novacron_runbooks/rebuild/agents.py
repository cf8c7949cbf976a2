"""The DWCP agents (Deployment ``dwcp-agent``): recreated from the kept manifest when lost, then waited for.

An agent Deployment that exists is left alone unless it was scaled to zero, which leaves the hosts without
migration agents as surely as a deletion does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.rebuild import manifests, objects
from novacron_runbooks.release import actions

if TYPE_CHECKING:
    from novacron_runbooks.release.cluster import ReleaseCluster

AGENT_ROLLOUT_TIMEOUT = 300


def recover_agents(cluster: ReleaseCluster, dry_run: bool) -> None:
    """Recreate or scale up ``dwcp-agent`` as the kept manifest says, then wait until every agent is ready."""
    evidence = current_evidence()
    rendered = manifests.render_dwcp(
        manifests.load_kept(manifests.DWCP_MANIFESTS), namespace=cluster.namespace
    )
    kept = manifests.find(rendered, "Deployment", manifests.DWCP_AGENT)
    replicas = int(kept["spec"]["replicas"])
    existing = cluster.workload(manifests.DWCP_AGENT)
    if existing is None:
        evidence.change(f"Deployment {manifests.DWCP_AGENT}", "create from the kept manifest", not dry_run)
        if not dry_run:
            objects.create(cluster, kept)
    elif existing.replicas == 0:
        evidence.change(f"Deployment {manifests.DWCP_AGENT}", f"scale 0 → {replicas}", not dry_run)
        if not dry_run:
            cluster.scale(manifests.DWCP_AGENT, replicas)
    else:
        evidence.note(f"{manifests.DWCP_AGENT} exists ({existing.ready}/{existing.replicas} ready)")
    if dry_run and existing is None:
        evidence.note(f"dry run: would wait for {manifests.DWCP_AGENT} once created")
        return
    actions.wait_ready(cluster, manifests.DWCP_AGENT, AGENT_ROLLOUT_TIMEOUT, dry_run)
