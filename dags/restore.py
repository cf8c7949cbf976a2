"""Restore from backup: a backup set or a point in time, into scratch (default) or, approved, production.

::

    plan_restore ─┬─ prepare_scratch >> restore_scratch >> verify_scratch >> teardown_scratch
                  └─ plan_production >> approve (default Reject)
                        ├─ Restore production → safety_backup >> stop_writes >> restore_primary
                        │                        >> verify_primary >> resume_writes >> rebuild_replica
                        └─ Reject → rejected                                    (nothing changed)

``plan_restore`` checks the request against the repository before anything changes: the backup set exists,
the target time is a time with a zone, not in the future, not before the oldest backup's end, and after the
chosen backup's end. The other path skips itself, so one DAG serves both targets.

Scratch: the restore goes into the scratch instance (WAL archiving off, its own port), is verified with
pg_amcheck, row counts and the application's smoke query, and is torn down unless ``keep_scratch`` keeps it
for inspection. Production: after the approval, a safety backup of what production holds now, application
writes stopped (API scaled to zero, counts recorded), the restore into the primary's folder, the same checks
on the primary, writes resumed, and the replica rebuilt (a point-in-time restore starts a new timeline). A
failed verification leaves writes stopped for a person: the safety backup holds what was there.

Measured and reported: RTO (restore start to verified copy) and RPO (recovery point to the newest archived
point; 0 for a backup set restored to its end).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.database import application
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.recovery import pitr, production, steps
from novacron_runbooks.recovery.pitr import RecoveryPoint
from novacron_runbooks.recovery.window import parse_target_time
from novacron_runbooks.release.cluster import ReleaseCluster

RUNBOOK = catalog_runbook("restore")
APPROVAL_TIMEOUT = timedelta(minutes=RUNBOOK.threshold("approval_timeout").value)
APPROVE, REJECT = "Restore production", "Reject"


def _only(target: str, params: dict[str, Any]) -> None:
    if params["target"] != target:
        raise AirflowSkipException(f"target is {params['target']}: this path is not used")


def _run_key() -> str:
    dag_run = get_current_context()["dag_run"]
    return f"{dag_run.dag_id}/{dag_run.run_id}"


with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def plan_restore(params: dict[str, Any]) -> dict[str, Any]:
        """Validate the backup set and target time against the repository's window; nothing changes."""
        target = parse_target_time(params["target_time"])
        return steps.plan_point(params["backup_set"], target)

    @runbook_step
    def prepare_scratch(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Remove a scratch copy left behind (only one this code created)."""
        _only("scratch", params)
        steps.prepare(params["dry_run"], f"restore {RecoveryPoint.from_json(plan['point']).describe()}")

    @runbook_step
    def restore_scratch(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Restore into scratch (archiving the primary's current WAL first for a recent target)."""
        _only("scratch", params)
        if params["dry_run"]:
            raise AirflowSkipException("dry run: nothing restored")
        return steps.restore(plan)

    @runbook_step(retries=1)
    def verify_scratch(plan: dict[str, Any], restored: dict[str, Any]) -> dict[str, Any]:
        """pg_amcheck, row counts, smoke query on the copy; report RTO and RPO."""
        checked = steps.verify_copy()
        return {**checked, **steps.report_objectives(restored, RecoveryPoint.from_json(plan["point"]))}

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE, retries=2)
    def teardown_scratch(params: dict[str, Any]) -> list[str]:
        """Remove the scratch copy however the run ended, unless ``keep_scratch`` keeps it for a person."""
        _only("scratch", params)
        if params["keep_scratch"] and not params["dry_run"]:
            copy = steps.scratch()
            current_evidence().note(
                f"kept for inspection: port {copy.port}, folder {copy.data_dir}; the next restore into "
                "scratch replaces it"
            )
            return []
        return steps.teardown(params["dry_run"])

    @runbook_step
    def plan_production(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Name the primary the restore replaces; a dry run records the plan and stops here."""
        _only("production", params)
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        primary = nodes.primary()
        if primary is None:
            raise AirflowFailException("no node accepts writes: use dr_database_failure, not restore")
        point = RecoveryPoint.from_json(plan["point"])
        steps_planned = [
            ("pgbackrest repository", "incremental safety backup of production as it is now"),
            ("application", "stop writes: API Deployments scaled to zero"),
            (primary.name, f"stop, restore {point.describe()} in place, promote"),
            ("application", "resume writes"),
            ("replicas", f"rebuild from {primary.name} (new timeline)"),
        ]
        for target, action in steps_planned:
            evidence.change(target, action, applied=False)
        if params["dry_run"]:
            raise AirflowSkipException(
                "dry run: production plan recorded, no approval asked, nothing changed"
            )
        return {**plan, "primary": primary.name, "roles": nodes.roles()}

    approve = RecordedHITLBranchOperator(
        task_id="approve",
        subject="Restore the production database ({{ params.backup_set or 'newest backup' }}"
        "{{ ' to ' ~ params.target_time if params.target_time }})?",
        body=(
            "Requested by {{ dag_run.triggering_user_name or 'an automation' }}. "
            "Reason: {{ params.reason or 'none given' }}\n\n"
            "**Plan:** restore {{ ti.xcom_pull(task_ids='plan_restore')['summary'] }} into the primary "
            "{{ ti.xcom_pull(task_ids='plan_production')['primary'] }}.\n\n"
            "Production is replaced by the restored data: everything written after the recovery point is "
            "lost from the live database (a safety backup keeps it). Writes stop during the restore. "
            f"Without an answer within {APPROVAL_TIMEOUT} nothing is changed."
        ),
        options=[APPROVE, REJECT],
        defaults=[REJECT],
        options_mapping={APPROVE: "safety_backup", REJECT: "rejected"},
        response_timeout=APPROVAL_TIMEOUT,
        retries=0,
    )

    @runbook_step
    def rejected(params: dict[str, Any]) -> None:
        """Record the rejection; production was not touched."""
        current_evidence().note("production restore rejected (or not approved in time): nothing changed")
        post_slack(
            get_current_context(), RUNBOOK.owner.slack_channel, ":no_entry: production restore rejected"
        )

    @runbook_step(retries=1)
    def safety_backup(prod: dict[str, Any]) -> str:
        """Back up production as it is now, annotated with this run (a retry reuses it)."""
        return production.safety_backup(_run_key())

    @runbook_step
    def stop_writes(prod: dict[str, Any], backup: str) -> dict[str, int]:
        """Scale the API to zero; the counts before are kept for resuming."""
        replicas = application.stop_writes(ReleaseCluster())
        current_evidence().change("application", f"writes stopped: {replicas} scaled to 0", applied=True)
        return replicas

    @runbook_step(retries=1)  # a retry restores the same point again (--delta), which is safe
    def restore_primary(prod: dict[str, Any], replicas: dict[str, int]) -> dict[str, Any]:
        """Archive the current WAL, stop the primary, restore in place, promote."""
        started_at = time.time()
        point = RecoveryPoint.from_json(prod["point"])
        if point.target_time is not None:
            with connect_primary() as conn:
                pitr.archive_now(PgBackRestHook(), conn)
        window = steps.window_now()  # before the restore: what writes reached until they stopped
        done = production.restore_primary(point, prod["primary"])
        return {**done, "started_at": started_at, "window": window}

    @runbook_step(retries=1)
    def verify_primary(prod: dict[str, Any], restored: dict[str, Any]) -> dict[str, Any]:
        """pg_amcheck, row counts and smoke query on the restored primary; report RTO and RPO."""
        checked = production.verify_node(DatabaseNodes.from_connection().node(restored["node"]))
        return {**checked, **steps.report_objectives(restored, RecoveryPoint.from_json(prod["point"]))}

    @runbook_step(retries=2)
    def resume_writes(replicas: dict[str, int], verified: dict[str, Any]) -> list[str]:
        """Scale the API back to the counts it had."""
        done = application.resume_writes(ReleaseCluster(), replicas)
        for action in done:
            current_evidence().change("application", action, applied=True)
        return done

    @runbook_step(retries=1)
    def rebuild_replica(restored: dict[str, Any], resumed: list[str]) -> list[str]:
        """Rebuild the other nodes from the restored primary (new timeline)."""
        return production.rebuild_replicas(restored["node"])

    plan = plan_restore()
    prepared = prepare_scratch(plan)
    restored_copy = restore_scratch(plan)
    prepared >> restored_copy
    checked = verify_scratch(plan, restored_copy)
    teardown = teardown_scratch()
    checked >> teardown
    teardown.as_teardown(setups=prepared.operator)  # type: ignore[attr-defined]

    prod = plan_production(plan)
    prod >> approve
    backup = safety_backup(prod)
    approve >> [backup, rejected()]
    replicas = stop_writes(prod, backup)
    restored_primary = restore_primary(prod, replicas)
    verified = verify_primary(prod, restored_primary)
    rebuild_replica(restored_primary, resume_writes(replicas, verified))
