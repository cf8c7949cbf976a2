"""The backup runbook's steps, built into the ``backup`` DAG and its scheduled twins by one function.

::

    preflight >> take_backup >> record_backup >> verify_backup >> expire_backups

The manual runbook (``backup``) and the scheduled jobs (``backup_hourly``, ``backup_daily``) differ only in
their definition (default ``backup_type``, schedule, tags), so they share this code rather than triggering
one another: a scheduled run then never depends on another DAG being unpaused.

Why the order: pgBackRest expires old backups by itself after every backup; here the backup runs with
expiry held off and ``expire_backups`` applies the catalog's ``retention_full`` only once the new backup
passed ``verify``, so a bad new backup can never cost a good old one.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.backup import metrics, snapshot
from novacron_runbooks.backup.jobs import backup_job, retention_full
from novacron_runbooks.backup.repository import (
    BackupSet,
    backup_sets,
    newest_archived_segment,
    parse_verify,
    retention_plan,
    verified,
)
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.hooks.pushgateway import PushgatewayHook

if TYPE_CHECKING:
    from novacron_runbooks.dagkit.factory import RunbookFrame

HOLD_EXPIRY = "--repo1-retention-full=9999999"
"""pgBackRest's largest count: the backup's own automatic expire keeps everything (see the module doc)."""
RUN_KEY = "runbook-run"


def _run_id() -> str:
    dag_run = get_current_context()["dag_run"]
    return f"{dag_run.dag_id}/{dag_run.run_id}"


def _find_own_backup(sets: list[BackupSet], run: str) -> BackupSet | None:
    """Return the backup this run already took: a retry after it finished must not take a second one."""
    own = [s for s in sets if s.annotation.get(RUN_KEY) == run]
    return own[-1] if own else None


def _wal_archived_at(hook: PgBackRestHook, info: dict[str, Any], stanza: str) -> float | None:
    """When the repository received its newest WAL segment (``repo-ls`` of that segment's folder)."""
    newest = newest_archived_segment(info)
    if newest is None:
        return None
    archive_id, segment = newest
    listing = hook.run(
        "repo-ls", "--output=json", f"archive/{stanza}/{archive_id}/{segment[:16]}", timeout=120, stanza=False
    )
    times = [int(v["time"]) for name, v in json.loads(listing).items() if name.startswith(segment)]
    return float(max(times)) if times else None


def _archiver_healthy(conn: Any) -> None:
    """Read ``pg_stat_archiver``: fail when the newest archive attempt failed (no WAL switch as check)."""
    row = conn.execute(
        "SELECT last_archived_wal, last_archived_time, last_failed_wal, last_failed_time"
        " FROM pg_stat_archiver"
    ).fetchone()
    archived, archived_at, failed, failed_at = row if row else (None, None, None, None)
    healthy = archived_at is not None and (failed_at is None or failed_at < archived_at)
    value = {"last_archived": archived, "last_failed": failed}
    current_evidence().measure("pg_stat_archiver", value, "pass" if healthy else "fail")
    if not healthy:
        raise AirflowFailException(
            f"WAL archiving is failing: last archived {archived}, last failed {failed}"
        )


def build_backup_dag(name: str, schedule: str | None) -> RunbookFrame:
    """Build the DAG of backup job ``name`` (``backup``, ``backup_hourly``, ``backup_daily``)."""
    runbook = backup_job(name)
    keep = retention_full(runbook)
    with runbook_dag(runbook.name, runbook=runbook, schedule=schedule, max_active_runs=1) as frame:

        @runbook_step(retries=1)
        def preflight(params: dict[str, Any]) -> dict[str, Any]:
            """Check the repository and WAL archiving (``pgbackrest check``); record the database state."""
            evidence = current_evidence()
            hook = PgBackRestHook()
            if params["dry_run"]:
                # check forces a WAL switch on the primary; a dry run only reads the archiver's record
                with connect_primary() as conn:
                    _archiver_healthy(conn)
            else:
                hook.run("check", timeout=300)
                evidence.measure("pgbackrest check", "archive_command delivers WAL to the repository", "pass")
            sets = backup_sets(hook.info())
            newest = sets[-1].label if sets else "none"
            evidence.note(f"{len(sets)} backup(s) in the repository, newest {newest}")
            with connect_primary() as conn:
                before = snapshot.read_state(conn)
            evidence.note(f"database state recorded: {len(before.tables)} tables, schema {before.schema}")
            return {"labels": [s.label for s in sets], "before": snapshot.state_to_json(before)}

        @runbook_step(retries=1, retry_delay=timedelta(seconds=10))
        def take_backup(pre: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
            """Run ``pgbackrest backup`` of the requested type (a retry reuses a backup this run finished)."""
            evidence = current_evidence()
            kind = params["backup_type"]
            if params["dry_run"]:
                evidence.change("pgbackrest repository", f"take a {kind} backup", applied=False)
                return None
            hook = PgBackRestHook()
            run = _run_id()
            done = _find_own_backup(backup_sets(hook.info()), run)
            if done is None:
                began = time.monotonic()
                hook.run("backup", f"--type={kind}", HOLD_EXPIRY, f"--annotation={RUN_KEY}={run}")
                evidence.measure("backup command seconds", round(time.monotonic() - began, 2), "pass")
                done = _find_own_backup(backup_sets(hook.info()), run)
                if done is None:
                    raise AirflowFailException(
                        "pgbackrest backup succeeded but info lists no backup of this run"
                    )
            else:
                evidence.note(f"{done.label} was already taken by this run; not backing up twice")
            evidence.change("pgbackrest repository", f"{done.type} backup {done.label}", applied=True)
            return {**done.summary(), "references": list(done.references)}

        @runbook_step
        def record_backup(pre: dict[str, Any], taken: dict[str, Any] | None, params: dict[str, Any]) -> None:
            """Annotate the backup with the database state at its point; publish its success metrics."""
            evidence = current_evidence()
            if taken is None:
                evidence.note("dry run: no backup to record or publish")
                return
            hook = PgBackRestHook()
            with connect_primary() as conn:
                after = snapshot.read_state(conn)
            notes = snapshot.annotation(snapshot.state_from_json(pre["before"]), after)
            hook.run(
                "annotate", f"--set={taken['label']}", *(f"--annotation={k}={v}" for k, v in notes.items())
            )
            written = notes[snapshot.WRITTEN_KEY]
            evidence.note(
                f"annotated {taken['label']}: schema {notes[snapshot.SCHEMA_KEY]}, "
                f"written during it: {written}"
            )
            info = hook.info()
            backup = next(s for s in backup_sets(info) if s.label == taken["label"])
            wal_at = _wal_archived_at(hook, info, hook.settings().stanza)
            evidence.measure("backup", backup.summary(), "pass")
            pushed = metrics.publish_backup(PushgatewayHook(), backup, wal_at)
            evidence.change("pushgateway", f"published {', '.join(pushed)}", applied=True)

        @runbook_step(retries=1)
        def verify_backup(taken: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any] | None:
            """Run ``pgbackrest verify``; publish as verified only a backup found valid, references too."""
            evidence = current_evidence()
            if taken is None:
                evidence.note("dry run: would run pgbackrest verify and publish the verified time")
                return None
            hook = PgBackRestHook()
            began = time.monotonic()
            result = parse_verify(hook.run("verify", "--output=text", "--verbose"))
            seconds = round(time.monotonic() - began, 2)
            backup = next(s for s in backup_sets(hook.info()) if s.label == taken["label"])
            ok, why = verified(result, backup)
            evidence.measure("pgbackrest verify", why, "pass" if ok else "fail", seconds=seconds)
            if not ok:
                raise AirflowFailException(f"backup {backup.label} failed verification: {why}")
            evidence.change(
                "pushgateway",
                f"published {metrics.publish_verified(PushgatewayHook(), backup)}",
                applied=True,
            )
            return {"label": backup.label, "verified": True, "verify_seconds": seconds}

        @runbook_step(retries=1)
        def expire_backups(checked: dict[str, Any] | None, params: dict[str, Any]) -> list[str]:
            """Keep the newest ``retention_full`` full backups and dependants; a dry run shows the plan."""
            evidence = current_evidence()
            hook = PgBackRestHook()
            sets = backup_sets(hook.info())
            plan = retention_plan(sets, keep)
            policy = f"--repo1-retention-full={keep}"
            if params["dry_run"]:
                out = hook.run("expire", "--dry-run", policy, "--log-level-console=info")
                lines = [
                    line.split("[DRY-RUN] ", 1)[1] for line in out.splitlines() if "[DRY-RUN] repo" in line
                ]
                evidence.note("pgbackrest expire --dry-run: " + ("; ".join(lines) or "nothing to expire"))
                for label in plan:
                    evidence.change(label, f"expire (keep {keep} full backups)", applied=False)
                return plan
            hook.run("expire", policy)
            remaining = {s.label for s in backup_sets(hook.info())}
            expired = [s.label for s in sets if s.label not in remaining]
            for label in expired:
                evidence.change(label, f"expired (keep {keep} full backups)", applied=True)
            evidence.note(f"{len(remaining)} backup(s) kept, {len(expired)} expired")
            return expired

        pre = preflight()
        taken = take_backup(pre)
        recorded = record_backup(pre, taken)
        checked = verify_backup(taken)
        recorded >> checked
        expire_backups(checked)
    return frame
