"""Daily backup validation: the newest backup restored into a scratch instance, checked, compared and timed.

::

    find_backup >> prepare_scratch >> restore_scratch >> [check_integrity, compare_with_backup, smoke_query]
                >> publish_result >> teardown_scratch

This Airflow DAG is the index's test restore ("validation: integrity checks, test restores"), a scheduled job
beside the ``backup`` runbook, whose ``test_restore_time`` objective it reports against.

- ``find_backup``: the newest backup, or ``backup_set``; an unknown label is refused before anything changes.
  Its annotation (written by the backup runbook) holds the schema fingerprint and the row counts of the
  tables nobody wrote while it ran: that is what the restored copy is compared with, never the primary now.
- ``prepare_scratch``: removes a scratch copy a crashed run left behind (only one this job created).
- ``restore_scratch``: ``pgbackrest restore --type=immediate --archive-mode=off`` into the scratch folder,
  PostgreSQL started on the scratch port, waited for until it leaves recovery. That span is the measured
  restore time.
- ``check_integrity``: ``pg_amcheck --all --heapallindexed``.
- ``compare_with_backup``: schema fingerprint and row counts against the annotation.
- ``smoke_query``: the application's VM list with each VM's host.
- ``publish_result``: validation outcome and restore time to the Pushgateway.
- ``teardown_scratch``: stops the instance and deletes its folder however the run ended.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.backup import metrics, snapshot
from novacron_runbooks.backup.jobs import backup_job
from novacron_runbooks.backup.repository import backup_sets
from novacron_runbooks.backup.scratch import Scratch
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.hooks.pushgateway import PushgatewayHook
from novacron_runbooks.recovery.verify import SMOKE_QUERY

JOB = backup_job("backup_validation")
DATABASE = "novacron"
CHECKS = ("check_integrity", "compare_with_backup", "smoke_query")


def _scratch() -> Scratch:
    return Scratch.from_settings(PgBackRestHook().settings())


with runbook_dag(JOB.name, runbook=JOB, schedule="50 1 * * *", max_active_runs=1):

    @runbook_step(retries=1)
    def find_backup(params: dict[str, Any]) -> dict[str, Any]:
        """Choose the backup to restore and read what its annotation says the copy must hold."""
        evidence = current_evidence()
        sets = backup_sets(PgBackRestHook().info())
        wanted = params["backup_set"]
        chosen = [s for s in sets if s.label == wanted] if wanted else sets[-1:]
        if not chosen:
            known = ", ".join(s.label for s in sets[-5:]) or "none"
            raise ParamError("backup_set", f"{wanted or 'newest'} is not in the repository (latest: {known})")
        backup = chosen[0]
        expected = snapshot.expected_from(backup.annotation)
        if expected is None:
            raise AirflowFailException(
                f"backup {backup.label} carries no database state (not taken by the backup runbook): "
                "its row counts at the backup's point are unknown, so it cannot be validated"
            )
        evidence.note(
            f"restoring {backup.label} ({backup.type}); {len(expected.rows)} tables to compare, "
            f"not comparable (written during the backup): {', '.join(expected.written) or 'none'}"
        )
        return {"backup": backup.summary(), "annotation": backup.annotation}

    @runbook_step
    def prepare_scratch(chosen: dict[str, Any], params: dict[str, Any]) -> None:
        """Remove a scratch copy a crashed run left behind (only one a test restore created)."""
        evidence = current_evidence()
        scratch = _scratch()
        if params["dry_run"]:
            scratch.check_ours()
            evidence.change(str(scratch.data_dir), f"restore {chosen['backup']['label']}", applied=False)
            return
        for action in scratch.remove():
            evidence.change(str(scratch.data_dir), f"left-over scratch copy {action}", applied=True)

    @runbook_step
    def restore_scratch(chosen: dict[str, Any], params: dict[str, Any]) -> float | None:
        """Restore into scratch and start it; the time until it accepts writes is the restore time."""
        evidence = current_evidence()
        if params["dry_run"]:
            raise AirflowSkipException("dry run: nothing restored")
        scratch = _scratch()
        label = chosen["backup"]["label"]
        scratch.remove()  # a retry after a half-done restore starts clean (only a copy this job made)
        began = time.monotonic()
        scratch.restore(PgBackRestHook(), label)
        restored = time.monotonic() - began
        scratch.start()
        seconds = round(time.monotonic() - began, 2)
        evidence.change(
            str(scratch.data_dir), f"{label} restored, running on port {scratch.port}", applied=True
        )
        evidence.measure("pgbackrest restore seconds", round(restored, 2), "pass")
        evidence.metric("test_restore_time_seconds", seconds)
        return seconds

    @runbook_step(retries=1)
    def check_integrity(seconds: float) -> dict[str, Any]:
        """Run pg_amcheck on every database of the restored copy."""
        began = time.monotonic()
        output = _scratch().amcheck()
        took = round(time.monotonic() - began, 2)
        current_evidence().measure(
            "pg_amcheck --all --heapallindexed", output.strip() or "no corruption", "pass"
        )
        return {"amcheck": "pass", "seconds": took}

    @runbook_step(retries=1)
    def compare_with_backup(chosen: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Compare the restored schema and row counts with those recorded at the backup's point."""
        evidence = current_evidence()
        expected = snapshot.expected_from(chosen["annotation"])
        assert expected is not None  # find_backup refused a backup without one
        with _scratch().connect(DATABASE) as conn:
            restored = snapshot.read_state(conn, with_checksums=False)
        result = snapshot.compare(expected, restored)
        evidence.measure("schema fingerprint", restored.schema, "pass" if result.schema_matches else "fail")
        for table, (want, got) in result.compared.items():
            evidence.measure(
                f"rows {table}", {"backup": want, "restored": got}, "pass" if want == got else "fail"
            )
        for table in result.missing_tables:
            evidence.measure(f"rows {table}", "table missing from the restored copy", "fail")
        if result.not_compared:
            evidence.note(f"written during the backup, not compared: {', '.join(result.not_compared)}")
        if not result.ok:
            raise AirflowFailException(
                f"restored copy differs from the backup's point: schema match {result.schema_matches}, "
                f"mismatched {result.mismatched}, missing {result.missing_tables}"
            )
        return {"tables": len(result.compared), "schema": restored.schema}

    @runbook_step(retries=1)
    def smoke_query(seconds: float) -> dict[str, Any]:
        """Run the application's VM list (joined to hosts) on the restored copy."""
        with _scratch().connect(DATABASE) as conn:
            rows = conn.execute(SMOKE_QUERY).fetchall()
            row = conn.execute("SELECT count(*) FROM vms").fetchone()
        total = int(row[0]) if row else 0
        ok = len(rows) == min(total, 100) and total > 0
        current_evidence().measure(
            "VM list with hosts", {"rows": len(rows), "vms": total}, "pass" if ok else "fail"
        )
        if not ok:
            raise AirflowFailException(f"smoke query returned {len(rows)} rows for {total} VMs")
        return {"rows": len(rows)}

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE, retries=2)
    def publish_result(params: dict[str, Any]) -> bool:
        """Publish whether every check passed, and the restore time; nothing when nothing was restored."""
        evidence = current_evidence()
        ti = get_current_context()["ti"]
        # pulled rather than passed: an upstream that failed left no value, and this step runs anyway
        seconds = ti.xcom_pull(task_ids="restore_scratch")
        if ti.xcom_pull(task_ids="find_backup") is None or params["dry_run"]:
            raise AirflowSkipException("nothing was restored: no validation result to publish")
        passed = seconds is not None and all(ti.xcom_pull(task_ids=task) for task in CHECKS)
        at = datetime.now(tz=UTC).timestamp()
        names = metrics.publish_validation(PushgatewayHook(), passed, at, seconds)
        evidence.change("pushgateway", f"published {', '.join(names)} (passed={passed})", applied=True)
        return passed

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE, retries=2)
    def teardown_scratch(params: dict[str, Any]) -> list[str]:
        """Stop the scratch instance and delete its folder, whatever happened before."""
        evidence = current_evidence()
        if params["dry_run"]:
            evidence.note("dry run: no scratch instance to remove")
            return []
        done = _scratch().remove()
        for action in done:
            evidence.change("scratch instance", action, applied=True)
        return done

    chosen = find_backup()
    prepared = prepare_scratch(chosen)
    seconds = restore_scratch(chosen)
    prepared >> seconds
    checks = [check_integrity(seconds), compare_with_backup(chosen, seconds), smoke_query(seconds)]
    published = publish_result()
    checks >> published
    teardown = teardown_scratch()
    published >> teardown
    teardown.as_teardown(setups=prepared.operator)  # type: ignore[attr-defined]
