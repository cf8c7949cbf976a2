"""System upgrade: preflight, a rehearsal on a scratch copy, an approval, the upgrade, verification, rollback.

::

    preflight_checks >> rollback_point >> rehearse >> approve (default Reject)
        rehearse >> teardown_scratch (however the run ends)
        approve ─┬─ Upgrade → choose_path ─┬─ upgrade_database          ─┬─ verify_upgrade
                 │                         └─ run_canary (a child run)  ─┘    >> roll_back (when one failed)
                 └─ Reject → rejected (nothing changed)

``validate_params`` checks ``component``, ``extension`` and ``target_version`` against the supported-upgrades
table (``include/upgrades.yaml``) and refuses anything else naming the field: a PostgreSQL server upgrade
(only PostgreSQL 15 is installed), any Kubernetes upgrade (the provider's manual procedure), an extension or
version not listed, an image of another repository.

- ``preflight_checks``: no deploy or database runbook holds its lock, no alert of the service fires in
  Alertmanager and no incident or DR runbook runs, the live system allows the upgrade (the extension is
  installed and an update path leads to the target; the image is not live and the service is healthy), and
  the newest verified backup's age against the 60-minute objective. A dry run stops here, the plan
  recorded.
- ``rollback_point``: for the database a backup taken and verified now (the state the rehearsal must match,
  and the restore of last resort); for dependencies the fresh verified backup, or a new one if it is stale.
- ``rehearse``: that backup restored into the scratch instance, the extension updated there as it will be on
  the primary, pg_amcheck and the VM list smoke query; the rehearsal's duration is reported. The copy is
  removed by ``teardown_scratch``.
- ``approve``: shows the rehearsal and the rollback plan; no answer within 30 minutes is Reject.
- ``upgrade_database``: ``ALTER EXTENSION ... UPDATE TO`` on the primary under the ``novacron-db`` lock.
  ``run_canary``: the ``canary`` runbook as a child run with the new image (its gates abort a bad release;
  stable is never touched until it promotes).
- ``verify_upgrade``: the primary runs the target version, pg_amcheck is clean and the application's role
  reads the VM list; or stable runs the new image and the service is under the error ceiling.
- ``roll_back`` (only when the upgrade or its verification failed): the extension dropped and created at its
  old version where nothing depends on it, otherwise the restore of the rollback point is handed to a person;
  for dependencies the canary has already removed itself, and a promoted release that fails is for
  ``rollback``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.notify import post_slack, run_label
from novacron_runbooks.incident.children import locked_child_run
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.recovery import steps
from novacron_runbooks.release.actions import run_holder
from novacron_runbooks.upgrade import apply, backup, plan, preflight, rehearsal
from novacron_runbooks.upgrade.supported import check_combination

RUNBOOK = catalog_runbook("upgrade")
BACKUP_OBJECTIVE_SECONDS = RUNBOOK.threshold("backup_age").value * 60
APPROVAL_TIMEOUT = timedelta(minutes=RUNBOOK.threshold("approval_timeout").value)
CHANNEL = RUNBOOK.owner.slack_channel
APPROVE, REJECT = "Upgrade", "Reject"
CANARY_POKE_SECONDS = 10
PATH_KEY = "upgrade_path"


def _way_back(planned: dict[str, Any], backup_label: str) -> str:
    if planned["component"] == "database":
        return plan.rollback_text(planned, backup_label)
    return (
        "the canary aborts itself on a failed gate (stable untouched); after promotion, the rollback runbook"
    )


def _say(text: str) -> None:
    context = get_current_context()
    post_slack(context, CHANNEL, f"{run_label(context)}: {text}")


with runbook_dag(RUNBOOK.name, checks=(check_combination,), max_active_runs=1):

    @runbook_step(retries=1)
    def preflight_checks(params: dict[str, Any]) -> dict[str, Any]:
        """Locks free, no open incident, the live system allows it, backup age; a dry run stops here."""
        evidence = current_evidence()
        preflight.require_locks_free()
        preflight.require_no_incident(get_current_context()["ti"])
        planned = (
            plan.plan_database(params)
            if params["component"] == "database"
            else plan.plan_dependencies(params)
        )
        fresh = preflight.backup_freshness(BACKUP_OBJECTIVE_SECONDS)
        planned["backup"] = fresh.to_json()
        planned["take_backup"] = params["component"] == "database" or not fresh.fresh
        point = "a backup taken and verified by this run" if planned["take_backup"] else str(fresh.label)
        evidence.note(f"rollback plan: {_way_back(planned, point)}")
        for target, action in (
            ("pgbackrest repository", f"rollback point: {point}"),
            ("scratch instance", f"rehearse {planned['what']} on a copy restored from it"),
            (planned.get("primary") or "canary", f"after an approval: {planned['what']}"),
        ):
            evidence.change(target, action, applied=False)
        if params["dry_run"]:
            raise AirflowSkipException("dry run: preflight passed and the plan is recorded; nothing changed")
        return planned

    @runbook_step(retries=1)
    def rollback_point(planned: dict[str, Any]) -> dict[str, Any]:
        """Take and verify the backup the upgrade can go back to (or reuse the fresh verified one)."""
        taken = (
            backup.take_rollback_point(run_holder(get_current_context()))
            if planned["take_backup"]
            else backup.reuse(str(planned["backup"]["label"]))
        )
        way_back = _way_back(planned, taken["label"])
        current_evidence().note(f"rollback plan: {way_back}")
        return {**taken, "rollback_plan": way_back}

    @runbook_step
    def rehearse(planned: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
        """Restore the rollback point into scratch, apply the upgrade there, check it, time it."""
        result = rehearsal.rehearse(planned, point)
        _say(f":test_tube: upgrade rehearsal passed: {result['summary']}")
        return result

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE, retries=2)
    def teardown_scratch(params: dict[str, Any]) -> list[str]:
        """Remove the scratch copy however the run ended (only when this run got as far as restoring)."""
        if get_current_context()["ti"].xcom_pull(task_ids="rollback_point") is None:
            current_evidence().note("no rehearsal was started: the scratch instance was not touched")
            return []
        return steps.teardown(bool(params["dry_run"]))

    approve = RecordedHITLBranchOperator(
        task_id="approve",
        subject="Upgrade {{ params.component }} to {{ params.target_version }}"
        "{{ ' (' ~ params.extension ~ ')' if params.extension }}?",
        body=(
            "Requested by {{ dag_run.triggering_user_name or 'an automation' }}. "
            "Reason: {{ params.reason or 'none given' }}\n\n"
            "**Plan:** {{ ti.xcom_pull(task_ids='preflight_checks')['what'] }}\n\n"
            "**Rehearsal:** {{ ti.xcom_pull(task_ids='rehearse')['summary'] }}\n\n"
            "**Rollback plan:** {{ ti.xcom_pull(task_ids='rollback_point')['rollback_plan'] }}\n\n"
            f"Without an answer within {APPROVAL_TIMEOUT} nothing is changed."
        ),
        options=[APPROVE, REJECT],
        defaults=[REJECT],
        options_mapping={APPROVE: "choose_path", REJECT: "rejected"},
        response_timeout=APPROVAL_TIMEOUT,
        retries=0,
    )

    @runbook_step
    def rejected() -> None:
        """Record the rejection; production was not touched."""
        current_evidence().note("upgrade rejected (or not approved in time): nothing changed")
        _say(":no_entry: upgrade rejected: nothing changed")

    @task.branch(task_id="choose_path")
    def choose_path(**context: Any) -> str:
        """Take the component's safest path: the extension update, or the canary (recorded for roll_back)."""
        path = "upgrade_database" if context["params"]["component"] == "database" else "run_canary"
        context["ti"].xcom_push(key=PATH_KEY, value=path)
        return path

    @runbook_step(retries=1)
    def upgrade_database(planned: dict[str, Any]) -> dict[str, Any]:
        """Update the extension on the primary under the database lock."""
        done = apply.upgrade_database(planned, run_holder(get_current_context()))
        _say(f":arrow_up: {planned['what']} applied on {planned['primary']}")
        return done

    run_canary = locked_child_run(
        "run_canary",
        "canary",
        "upgrade {{ run_id }}: {{ params.reason or 'dependencies upgrade' }}",
        conf={"image": "{{ params.target_version }}", "lock_wait_minutes": 0},
        poke_seconds=CANARY_POKE_SECONDS,
    )

    @runbook_step(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, retries=1)
    def verify_upgrade(planned: dict[str, Any]) -> dict[str, Any]:
        """Check the component runs the target and the application works."""
        if planned["component"] == "database":
            return apply.verify_database(planned)
        return apply.verify_dependencies(planned)

    @runbook_step(trigger_rule=TriggerRule.ONE_FAILED, retries=1)
    def roll_back(planned: dict[str, Any], point: dict[str, Any]) -> str:
        """Run the way back after a failed upgrade or verification (or say who must)."""
        if get_current_context()["ti"].xcom_pull(task_ids="choose_path", key=PATH_KEY) is None:
            raise AirflowSkipException("the upgrade never started: nothing to roll back")
        if planned["component"] == "database":
            done = apply.rollback_database(planned, point["label"], run_holder(get_current_context()))
        else:
            done = apply.rollback_dependencies(planned)
        _say(f":rewind: upgrade rolled back: {done}")
        return done

    planned = preflight_checks()
    point = rollback_point(planned)
    rehearsed = rehearse(planned, point)
    rehearsed >> teardown_scratch()
    path = choose_path()
    rehearsed >> approve >> [path, rejected()]
    upgraded = upgrade_database(planned)
    path >> [upgraded, run_canary]
    checked = verify_upgrade(planned)
    [upgraded, run_canary] >> checked
    [upgraded, run_canary, checked] >> roll_back(planned, point)
