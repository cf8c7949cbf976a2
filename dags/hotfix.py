"""Emergency hotfix: a second person approves, then a fast rolling update, a short gate, automatic undo.

::

    preflight >> approve (second person, time-boxed, default Reject)
        ├─ Approve → roll_out_hotfix >> wait_hotfix_ready >> gate_post_deploy
        │               ├─ proceed  → record_hotfix               (flagged for the incident's postmortem)
        │               └─ rollback → roll_back_hotfix            (previous image, same colour)
        └─ Reject  → rejected                                     (nothing changed)
    undo_failed_rollout: the rolling update failed (stuck pods): previous image back at once

The hotfix bypasses the blue-green path (the incident cannot wait for it) and updates the active colour in
place, which is why it needs a second person and why its gate judges the hotfix's own pods (``version``) from
the first requests they serve.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.gate import metric_gate
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.dagkit.params import require_image
from novacron_runbooks.operators.hitl import SecondPersonApprovalOperator
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment
from novacron_runbooks.release.gates import image_version, in_place_gate_settings, in_place_release_gate
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("hotfix")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
APPROVAL_TIMEOUT = timedelta(minutes=RUNBOOK.threshold("approval_timeout").value)
POST_DEPLOY = in_place_release_gate("post_deploy", ERROR_CEILING)
PLAN = "{{ ti.xcom_pull(task_ids='preflight')['%s'] }}"


def _undo(plan: dict[str, Any], revision: int | None, dry_run: bool, result: str) -> None:
    """Put the previous image back on the active colour and wait for it (idempotent)."""
    cluster = ReleaseCluster()
    target = colour_deployment(plan["active"])
    actions.roll_out(
        cluster,
        target,
        plan["old_image"],
        plan["replicas"],
        cause=f"hotfix {result}: {plan['incident_id']}",
        revision=None,
        dry_run=dry_run,
    )
    actions.wait_ready(cluster, target, timeout=300, dry_run=dry_run)
    if revision is not None and not dry_run:
        ReleaseHistory(cluster).finish(revision, result, note=f"postmortem: {plan['incident_id']}")  # type: ignore[arg-type]
    current_evidence().verdict = "rollback"


with runbook_dag(RUNBOOK.name, checks=(require_image("image"),), max_active_runs=1) as rb:

    @runbook_step
    def preflight(params: dict[str, Any]) -> dict[str, Any]:
        """Record what runs now (the undo target) and refuse a hotfix that is already live."""
        cluster = ReleaseCluster()
        active = cluster.active_colour()
        live = cluster.require(colour_deployment(active))
        if live.image == params["image"]:
            raise AirflowSkipException(f"{params['image']} already runs on {active}; nothing to hotfix")
        if not live.rolled_out:
            current_evidence().note(f"{live.name} is mid-rollout ({live.ready}/{live.replicas} ready)")
        plan = {
            "active": active,
            "old_image": live.image,
            "image": params["image"],
            "replicas": max(live.replicas, 1),
            "incident_id": params["incident_id"],
            "version": image_version(live.image if params["dry_run"] else params["image"]),
            "gate_delay_seconds": actions.verdict_delay_seconds(),
        }
        current_evidence().note(
            f"plan: {live.image} → {params['image']} on {active} for {params['incident_id']}"
        )
        return plan

    approve = SecondPersonApprovalOperator(
        task_id="approve",
        subject="Hotfix {{ params.image }} for {{ params.incident_id }}: approve?",
        body=(
            "Requested by {{ dag_run.triggering_user_name or 'an automation' }}.\n\n"
            "**Justification:** {{ params.justification }}\n\n"
            "The hotfix bypasses blue-green and updates the live pods in place. The requester cannot "
            f"approve; without an answer within {APPROVAL_TIMEOUT} the hotfix is rejected."
        ),
        on_approve="roll_out_hotfix",
        on_reject="rejected",
        response_timeout=APPROVAL_TIMEOUT,
        retries=0,
    )

    @runbook_step
    def rejected(params: dict[str, Any]) -> None:
        """Record the rejection; nothing was changed."""
        current_evidence().note("hotfix rejected (or not approved in time): nothing was changed")
        post_slack(
            get_current_context(),
            RUNBOOK.owner.slack_channel,
            f":no_entry: hotfix {params['image']} for {params['incident_id']} rejected; nothing changed",
        )

    @runbook_step
    def roll_out_hotfix(plan: dict[str, Any], params: dict[str, Any]) -> int | None:
        """Record the hotfix in the history and start the rolling update of the active colour."""
        context = get_current_context()
        dry_run = bool(params["dry_run"])
        cluster = ReleaseCluster()
        revision = None
        if not dry_run:
            revision = actions.record_in_place_release(
                cluster,
                context,
                RUNBOOK.name,
                plan["image"],
                plan["active"],
                reason=f"{plan['incident_id']}: {params['justification']}",
                note=f"postmortem: {plan['incident_id']}",
            )
        actions.roll_out(
            cluster,
            colour_deployment(plan["active"]),
            plan["image"],
            plan["replicas"],
            cause=f"hotfix {plan['incident_id']} by {actions.run_holder(context)}",
            revision=revision,
            dry_run=dry_run,
        )
        return revision

    @runbook_step
    def wait_hotfix_ready(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Wait for the rolling update; stuck pods fail it at once (and the undo runs)."""
        actions.wait_ready(
            ReleaseCluster(),
            colour_deployment(plan["active"]),
            params["rollout_timeout_seconds"],
            params["dry_run"],
        )

    @runbook_step
    def record_hotfix(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Mark the hotfix live and flag the run for the incident's postmortem."""
        evidence = current_evidence()
        evidence.note(f"flagged for the postmortem of {plan['incident_id']}")
        if revision is None:
            evidence.change("deployment history", "record the hotfix as promoted", applied=False)
            return
        ReleaseHistory(ReleaseCluster()).finish(
            revision, "promoted", note=f"postmortem: {plan['incident_id']}"
        )
        evidence.change("deployment history", f"revision {revision} promoted", applied=True)

    @runbook_step(retries=2)
    def roll_back_hotfix(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Put the previous image back on the active colour (the gate failed)."""
        _undo(plan, revision, bool(params["dry_run"]), "rolled-back")

    @runbook_step(trigger_rule=TriggerRule.ONE_FAILED, retries=2)
    def undo_failed_rollout(params: dict[str, Any]) -> None:
        """Put the previous image back on the active colour at once (the rolling update failed)."""
        ti = get_current_context()["ti"]
        plan = ti.xcom_pull(task_ids="preflight")
        if not plan:
            raise AirflowSkipException("preflight did not finish: nothing was changed")
        _undo(plan, ti.xcom_pull(task_ids="roll_out_hotfix"), bool(params["dry_run"]), "failed")

    plan = preflight()
    plan >> approve
    revision = roll_out_hotfix(plan)
    approve >> [revision, rejected()]
    ready = wait_hotfix_ready(plan)
    revision >> ready
    gate = metric_gate(
        POST_DEPLOY,
        on_proceed=record_hotfix(plan, revision),
        on_rollback=roll_back_hotfix(plan, revision),
        **in_place_gate_settings(PLAN),
        notify_channel=RUNBOOK.owner.slack_channel,
    )
    ready >> gate
    [revision, ready] >> undo_failed_rollout()
