"""Restoring the production database in place: safety backup, restore into the primary, verify, replica.

Used by ``restore`` (target production) and by ``dr_data_corruption`` (cut over), always after an approval
and with application writes stopped. The node work is :class:`DatabaseNodes` (restore in place refuses a
running primary, so the primary is stopped first); this module adds the order, the idempotency keys and the
evidence:

- the safety backup is annotated with the run, so a retry finds the one it already took;
- a backup-set restore without a time goes to the backup's end second (``restore_in_place`` replays to a
  time or to the end of the archive; the second after the backup's recorded stop is the nearest time).
- after a point-in-time restore the primary runs on a new timeline: every replica is rebuilt from it.
"""

from __future__ import annotations

import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.backup.repository import backup_sets
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.database.nodes import DatabaseNodes, Node
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.recovery import checks, verify
from novacron_runbooks.recovery.window import consistent_at

if TYPE_CHECKING:
    from novacron_runbooks.recovery.pitr import RecoveryPoint

RUN_KEY = "runbook-run"
HOLD_EXPIRY = "--repo1-retention-full=9999999"
"""The safety backup must not expire an older backup (the one being restored, perhaps)."""
DATABASE = "novacron"


def safety_backup(run: str) -> str:
    """Take (once per run) an incremental backup of what production holds now; return its label."""
    evidence = current_evidence()
    hook = PgBackRestHook()
    own = [s for s in backup_sets(hook.info()) if s.annotation.get(RUN_KEY) == run]
    if own:
        evidence.note(f"safety backup {own[-1].label} was already taken by this run")
        return own[-1].label
    began = time.monotonic()
    hook.run(
        "backup", "--type=incr", HOLD_EXPIRY, f"--annotation={RUN_KEY}={run}", "--annotation=purpose=safety"
    )
    own = [s for s in backup_sets(hook.info()) if s.annotation.get(RUN_KEY) == run]
    if not own:
        raise AirflowFailException("pgbackrest backup succeeded but info lists no backup of this run")
    evidence.measure("safety backup seconds", round(time.monotonic() - began, 2), "pass")
    evidence.change("pgbackrest repository", f"safety backup {own[-1].label} ({run})", applied=True)
    return own[-1].label


def target_text(point: RecoveryPoint) -> str:
    """Return the recovery target ``restore_in_place`` gets: the point's time, or the backup's end second."""
    if point.target_time is not None:
        return point.target_time.astimezone(UTC).isoformat(sep=" ")
    backup = next(s for s in backup_sets(PgBackRestHook().info()) if s.label == point.backup_set)
    return consistent_at(backup).isoformat(sep=" ")


def restore_primary(point: RecoveryPoint, primary_name: str) -> dict[str, Any]:
    """Stop the primary and restore ``point`` into its folder, promoted; idempotent per node name."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    node = nodes.node(primary_name)
    at = target_text(point)
    began = time.time()
    if nodes.stop(node, "fast"):
        evidence.change(node.name, "stopped (restore in place)", applied=True)
    nodes.restore_in_place(node, PgBackRestHook(), backup_set=point.backup_set, target_time=at)
    evidence.change(node.name, f"restored {point.backup_set} to {at}, promoted", applied=True)
    evidence.measure("restore in place seconds", round(time.time() - began, 2), "pass")
    return {"node": node.name, "target": at}


def verify_node(node: Node) -> dict[str, Any]:
    """pg_amcheck, row counts and the smoke query on a node; fail on any failed check."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    ok, output = checks.amcheck_live(nodes, node, DATABASE)
    evidence.measure("pg_amcheck --heapallindexed", output or "no corruption", "pass" if ok else "fail")
    with nodes.programs.connect(node, DATABASE) as conn:
        counts = verify.row_counts(conn)
        smoke_ok, smoke = verify.smoke(conn)
    for table, rows in counts.items():
        evidence.measure(f"rows {table}", rows, "pass")
    evidence.measure("VM list with hosts", smoke, "pass" if smoke_ok else "fail")
    if not (ok and smoke_ok):
        raise AirflowFailException(f"restored primary failed verification: amcheck ok={ok}, smoke {smoke}")
    return {"counts": counts, "smoke": smoke}


def rebuild_replicas(primary_name: str) -> list[str]:
    """Rebuild every other node as a replica of the restored primary (it runs on a new timeline)."""
    evidence = current_evidence()
    nodes = DatabaseNodes.from_connection()
    source = nodes.node(primary_name)
    done = []
    for node in nodes.nodes:
        if node.name == source.name:
            continue
        nodes.rebuild_replica(node, source)
        evidence.change(node.name, f"rebuilt as a replica of {source.name}", applied=True)
        done.append(node.name)
    return done
