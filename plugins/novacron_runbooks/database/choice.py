"""The failover's second judgement, on the live nodes: promote the replica, or restore into the lost node.

Before judging, WAL the lost primary flushed but never sent is copied from its disk to the replica (a live
run only; :mod:`novacron_runbooks.database.salvage`), and the replica gets a bounded moment to replay what it
received and what the archive holds. The judgement itself is :func:`failover.decide`.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from novacron_runbooks.database import failover, observe
from novacron_runbooks.database.salvage import salvage_wal

if TYPE_CHECKING:
    from datetime import datetime

    from novacron_runbooks.dagkit.evidence import Evidence
    from novacron_runbooks.database.nodes import DatabaseNodes, Node


def choose(
    nodes: DatabaseNodes,
    lost: Node,
    archived_end: int | None,
    lost_at: datetime,
    rpo_limit: float,
    *,
    dry_run: bool,
    evidence: Evidence,
) -> tuple[failover.Decision, Node, float | None]:
    """Return the decision, the node that becomes primary, and the RPO estimate if it is promoted."""
    candidates = [n for n in nodes.replicas() if n != lost and not nodes.fenced(n)]
    replica = candidates[0] if candidates else None
    if replica is not None and not dry_run:
        for name in salvage_wal(nodes, lost, replica):
            evidence.change(replica.name, f"WAL {name} copied from {lost.name}'s disk", applied=True)
    elif replica is not None and nodes.programs.host(lost).is_dir(posixpath.join(lost.data_dir, "pg_wal")):
        evidence.change(replica.name, f"copy unsent WAL from {lost.name}'s disk", applied=False)
    state = observe.settled_replica(nodes, replica, archived_end) if replica is not None else None
    rpo = failover.rpo_estimate_seconds(lost_at, state.last_replayed_at if state else None)
    decision = failover.decide(state, archived_end, rpo, rpo_limit)
    verdict = "pass" if not decision.missing_bytes else "fail"
    evidence.measure("wal_missing_bytes", decision.missing_bytes, verdict)
    if rpo is not None:
        evidence.measure("replica lag (seconds, upper bound)", rpo, "pass" if rpo <= rpo_limit else "fail")
    for reason in decision.reasons:
        evidence.note(f"{decision.path}: {reason}")
    target = replica if decision.path == "promote" and replica is not None else lost
    return decision, target, rpo
