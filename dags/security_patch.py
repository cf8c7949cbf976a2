"""Emergency security patch: every workload on an affected image, patched by the hotfix path, then proven.

::

    find_affected >> choose_path ─┬─ dry run → plan_only        (the list and the plan, nothing changed)
                                  └─ approve (second person, window by severity, default Reject)
        ├─ Approve → patch_application >> patch_workloads >> wait_patched >> gate_post_patch
        │               ├─ proceed  → verify_patched   (every pod on the patched image, the rest untouched)
        │               └─ rollback → roll_back_patch  (every patched workload back to its old image)
        └─ Reject  → rejected                                               (nothing changed)
    undo_failed_patch: a rolling update failed (stuck pods): every patched workload back at once

``find_affected`` matches every Deployment, StatefulSet and DaemonSet of the namespace, init containers
included, by tag or by digest (a pod's ``imageID`` shows the digest a tag pulled). The API's live colour goes
the hotfix's way: a release record in the deployment history, a rolling update, the gate on the patched
version's own requests. The other affected Deployments (the idle colour, the DWCP agents, ...) get a rolling
update and a readiness wait. The approval window is the catalog's for the CVE's severity (critical shortest).
A rerun after a success finds nothing affected and changes nothing.

Owner: Security Team. Idempotent: yes. Escalation: the index's ladder; a failed gate leaves the CVE exposed.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.gate import metric_gate
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.patching import steps
from novacron_runbooks.patching.approval import SeverityApprovalOperator
from novacron_runbooks.patching.plan import approval_window
from novacron_runbooks.patching.validation import CHECKS, SEVERITIES
from novacron_runbooks.release.gates import in_place_gate_settings, in_place_release_gate

RUNBOOK = catalog_runbook("security_patch")
POST_PATCH = in_place_release_gate("post_patch", RUNBOOK.threshold("error_rate").value)
PLAN = "{{ ti.xcom_pull(task_ids='find_affected')['%s'] }}"

with runbook_dag(RUNBOOK.name, checks=CHECKS, max_active_runs=1) as rb:

    @runbook_step
    def find_affected(params: dict[str, Any]) -> dict[str, Any]:
        """List every workload on an affected image and plan its path; nothing affected ends the run."""
        return steps.find_affected(RUNBOOK, params, get_current_context())

    @task.branch
    def choose_path(**context: Any) -> str:
        return "plan_only" if context["params"]["dry_run"] else "approve"

    @runbook_step
    def plan_only(plan: dict[str, Any]) -> None:
        """Dry run: say what would be asked and changed, and how the service's error ratio reads now."""
        steps.preview_gate(RUNBOOK.threshold("error_rate").value)
        current_evidence().note(
            f"dry run: would ask a second person (window {plan['approval_window']} for a "
            f"{plan['severity']} CVE), then patch:\n{plan['summary']}"
        )

    approve = SeverityApprovalOperator(
        task_id="approve",
        windows={severity: approval_window(RUNBOOK, severity) for severity in SEVERITIES},
        subject="Security patch {{ params.cve_id }} ({{ params.severity }}): approve?",
        body=(
            "Requested by {{ dag_run.triggering_user_name or 'an automation' }} to patch "
            "{{ params.cve_id }} with `{{ params.patched_image }}`.\n\n"
            + PLAN
            % "summary"
            + "\n\nThe live pods are updated in place, as a hotfix. The requester cannot approve; without an "
            "answer within " + PLAN % "approval_window" + " the patch is rejected."
        ),
        on_approve="patch_application",
        on_reject="rejected",
        retries=0,
    )

    @runbook_step
    def rejected(params: dict[str, Any]) -> None:
        """Record the rejection; nothing was changed."""
        current_evidence().note("security patch rejected (or not approved in time): nothing was changed")
        post_slack(
            get_current_context(),
            RUNBOOK.owner.slack_channel,
            f":no_entry: security patch {params['cve_id']} rejected; nothing changed, CVE still exposed",
        )

    @runbook_step
    def patch_application(plan: dict[str, Any], params: dict[str, Any]) -> int | None:
        """Patch the API's live colour the hotfix's way: a release record, then its rolling update."""
        return steps.patch_application(RUNBOOK.name, plan, bool(params["dry_run"]), get_current_context())

    @runbook_step
    def patch_workloads(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Every other affected Deployment: a rolling update of its affected containers only."""
        steps.patch_workloads(plan, bool(params["dry_run"]), get_current_context())

    @runbook_step
    def wait_patched(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Wait for every rolling update; stuck pods fail it at once (and the undo runs)."""
        steps.wait_patched(plan, params["rollout_timeout_seconds"], bool(params["dry_run"]))

    @runbook_step
    def verify_patched(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Prove every pod of every patched workload runs the patched image and the rest is untouched."""
        steps.verify_patched(plan, revision, params, get_current_context(), RUNBOOK.owner.slack_channel)

    @runbook_step(retries=2)
    def roll_back_patch(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Put every patched workload back on its old image (the gate failed)."""
        steps.undo(plan, revision, bool(params["dry_run"]), "rolled-back", params["rollout_timeout_seconds"])

    @runbook_step(trigger_rule=TriggerRule.ONE_FAILED, retries=2)
    def undo_failed_patch(params: dict[str, Any]) -> None:
        """Put every patched workload back at once (a rolling update failed)."""
        ti = get_current_context()["ti"]
        plan = ti.xcom_pull(task_ids="find_affected")
        if not plan:
            raise AirflowSkipException("find_affected did not finish: nothing was changed")
        revision = ti.xcom_pull(task_ids="patch_application")
        steps.undo(plan, revision, bool(params["dry_run"]), "failed", params["rollout_timeout_seconds"])

    plan = find_affected()
    path = choose_path()
    plan >> path >> [approve, plan_only(plan)]
    revision = patch_application(plan)
    approve >> [revision, rejected()]
    patched = patch_workloads(plan)
    ready = wait_patched(plan)
    revision >> patched >> ready
    gate = metric_gate(
        POST_PATCH,
        on_proceed=verify_patched(plan, revision),
        on_rollback=roll_back_patch(plan, revision),
        **in_place_gate_settings(PLAN),
        notify_channel=RUNBOOK.owner.slack_channel,
    )
    ready >> gate
    [revision, patched, ready] >> undo_failed_patch()
