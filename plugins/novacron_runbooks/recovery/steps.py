"""The restore steps ``restore`` and ``dr_data_corruption`` share, written once: plan, restore, verify.

Each function runs inside a ``@runbook_step`` and records what it measured and changed on the step's
evidence. Planning reads only the repository (nothing changes); restoring archives the primary's current WAL
when the target needs it, then restores into the scratch instance.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.backup.scratch import Scratch
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.recovery import pitr, verify
from novacron_runbooks.recovery.window import Window, check_target, choose_backup, fmt, read_window

DATABASE = "novacron"


def scratch() -> Scratch:
    return Scratch.from_settings(PgBackRestHook().settings())


def plan_point(backup_set: str, target: datetime | None, *, inclusive: bool = True) -> dict[str, Any]:
    """Check the request against the repository (``ParamError`` before any change); return the plan."""
    evidence = current_evidence()
    window, sets = read_window(PgBackRestHook())
    backup = choose_backup(sets, backup_set, target)
    note = check_target(target, window, datetime.now(tz=UTC)) if target is not None else None
    point = pitr.RecoveryPoint(backup.label, target, inclusive)
    evidence.measure("recoverability window", window.to_json(), "pass")
    evidence.note(f"{window.describe()}; restore {point.describe()}")
    if note:
        evidence.note(note)
    return {
        "point": point.to_json(),
        "summary": point.describe(),
        "window": window.to_json(),
        "backup": backup.summary(),
    }


def window_now() -> dict[str, Any]:
    """Read the repository's window as it is now (after a restore archived more WAL)."""
    window, _ = read_window(PgBackRestHook())
    return window.to_json()


def prepare(dry_run: bool, what: str) -> None:
    """Remove a scratch copy left behind (only one this code created); a dry run only checks the folder."""
    evidence = current_evidence()
    copy = scratch()
    if dry_run:
        copy.check_ours()
        evidence.change(str(copy.data_dir), what, applied=False)
        return
    for action in copy.remove():
        evidence.change(str(copy.data_dir), f"left-over scratch copy {action}", applied=True)


def restore(plan: dict[str, Any]) -> dict[str, Any]:
    """Make the target reachable, restore into scratch and start it; return timings and the fresh window."""
    evidence = current_evidence()
    hook = PgBackRestHook()
    point = pitr.RecoveryPoint.from_json(plan["point"])
    started_at = time.time()
    window = None
    if point.target_time is not None:
        with connect_primary() as conn:
            pitr.archive_now(hook, conn)
        window, _ = read_window(hook)
        if check_target(point.target_time, window, datetime.now(tz=UTC)) is not None:
            raise AirflowFailException(
                f"{fmt(point.target_time)} is still after the newest archived WAL ({fmt(window.end)}) "
                "after a WAL switch: WAL archiving is not keeping up"
            )
        evidence.note(f"current WAL archived: the archive now reaches {fmt(window.end)}")
    copy = scratch()
    copy.remove()  # a retry after a half-done restore starts clean (only a copy this code made)
    timings = pitr.restore_into(copy, hook, point)
    evidence.change(str(copy.data_dir), f"{point.describe()} restored, port {copy.port}", applied=True)
    evidence.measure("pgbackrest restore seconds", timings["pgbackrest_restore"], "pass")
    evidence.measure("restore to a writable copy seconds", timings["writable"], "pass")
    fresh = window.to_json() if window is not None else plan["window"]
    return {"started_at": started_at, **timings, "window": fresh}


def verify_copy() -> dict[str, Any]:
    """pg_amcheck, row counts and the smoke query on the scratch copy; fail on any failed check."""
    evidence = current_evidence()
    copy = scratch()
    began = time.monotonic()
    output = copy.amcheck()
    evidence.measure(
        "pg_amcheck --all --heapallindexed",
        output.strip() or "no corruption",
        "pass",
        seconds=round(time.monotonic() - began, 2),
    )
    with copy.connect(DATABASE) as conn:
        counts = verify.row_counts(conn)
        ok, smoke = verify.smoke(conn)
    for table, rows in counts.items():
        evidence.measure(f"rows {table}", rows, "pass")
    evidence.measure("VM list with hosts", smoke, "pass" if ok else "fail")
    if not ok:
        raise AirflowFailException(f"smoke query on the restored copy: {smoke}")
    return {"counts": counts, "smoke": smoke}


def teardown(dry_run: bool) -> list[str]:
    """Stop the scratch instance and delete its folder (idempotent; only a copy this code made)."""
    evidence = current_evidence()
    if dry_run:
        evidence.note("dry run: no scratch instance to remove")
        return []
    done = scratch().remove()
    for action in done:
        evidence.change("scratch instance", action, applied=True)
    return done


def report_objectives(restored: dict[str, Any], point: pitr.RecoveryPoint) -> dict[str, float]:
    """RTO (restore start to verified) and RPO (recovery point to the newest archived point) as metrics."""
    window = Window.from_json(restored["window"])
    rto = round(time.time() - float(restored["started_at"]), 2)
    rpo = pitr.rpo_seconds(point, window)
    evidence = current_evidence()
    evidence.metric("rto_seconds", rto)
    evidence.metric("rpo_seconds", rpo)
    return {"rto_seconds": rto, "rpo_seconds": rpo}
