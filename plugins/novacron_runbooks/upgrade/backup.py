"""The upgrade's rollback point: a backup taken and verified by this run, or the fresh verified one.

Why the database path always takes its own: the rehearsal must restore exactly what production holds before
the change (an older backup may predate the extension's current version), and a restore back to the moment
before the upgrade is the rollback of last resort. The backup is taken the way the backup runbook takes
one (annotated with the run, so a retry reuses it; annotated with the database state, so the daily test
restore can compare it), verified with ``pgbackrest verify`` (fail closed) and published to the Pushgateway,
so the backup age metrics and alerts see it like any other.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.backup import metrics, snapshot
from novacron_runbooks.backup.repository import BackupSet, backup_sets, parse_verify, verified
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.hooks.pushgateway import PushgatewayHook

RUN_KEY = "runbook-run"
HOLD_EXPIRY = "--repo1-retention-full=9999999"
"""The backup's own automatic expire must not remove an older backup (see ``backup.dag``)."""


def _own(hook: PgBackRestHook, run: str) -> BackupSet | None:
    own = [s for s in backup_sets(hook.info()) if s.annotation.get(RUN_KEY) == run]
    return own[-1] if own else None


def _take(hook: PgBackRestHook, run: str) -> BackupSet:
    """Run an incremental backup annotated with the run and the database state at its point."""
    evidence = current_evidence()
    with connect_primary() as conn:
        before = snapshot.read_state(conn)
    began = time.monotonic()
    hook.run(
        "backup", "--type=incr", HOLD_EXPIRY, f"--annotation={RUN_KEY}={run}", "--annotation=purpose=upgrade"
    )
    evidence.measure("backup command seconds", round(time.monotonic() - began, 2), "pass")
    taken = _own(hook, run)
    if taken is None:
        raise AirflowFailException("pgbackrest backup succeeded but info lists no backup of this run")
    with connect_primary() as conn:
        after = snapshot.read_state(conn)
    notes = snapshot.annotation(before, after)
    hook.run("annotate", f"--set={taken.label}", *(f"--annotation={k}={v}" for k, v in notes.items()))
    evidence.change("pgbackrest repository", f"{taken.type} backup {taken.label} ({run})", applied=True)
    metrics.publish_backup(PushgatewayHook(), taken, None)
    return taken


def _verify(hook: PgBackRestHook, backup: BackupSet) -> None:
    """``pgbackrest verify``; only a backup found valid, references too, counts (then it is published)."""
    began = time.monotonic()
    result = parse_verify(hook.run("verify", "--output=text", "--verbose"))
    ok, why = verified(result, backup)
    current_evidence().measure(
        "pgbackrest verify", why, "pass" if ok else "fail", seconds=round(time.monotonic() - began, 2)
    )
    if not ok:
        raise AirflowFailException(f"rollback point {backup.label} failed verification: {why}")
    metrics.publish_verified(PushgatewayHook(), backup)


def take_rollback_point(run: str) -> dict[str, Any]:
    """Take (once per run) and verify a backup of production as it is now; return its summary."""
    hook = PgBackRestHook()
    backup = _own(hook, run)
    if backup is None:
        backup = _take(hook, run)
    else:
        current_evidence().note(f"{backup.label} was already taken by this run; not backing up twice")
    _verify(hook, backup)
    return {**backup.summary(), "taken_by_run": True}


def reuse(label: str) -> dict[str, Any]:
    """Return the summary of the fresh verified backup ``label`` (still in the repository)."""
    found = [s for s in backup_sets(PgBackRestHook().info()) if s.label == label]
    if not found:
        raise AirflowFailException(f"backup {label} left the repository since the preflight: run again")
    current_evidence().note(f"{label} is fresh and verified: it is the rollback point, no new backup")
    return {**found[0].summary(), "taken_by_run": False}
