"""The security patch's steps, called by ``dags/security_patch.py`` inside its ``@runbook_step`` tasks.

Each step records what it found and changed as evidence, is idempotent (a retried or cleared task finds its
work done) and honours ``dry_run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.patching import rollout
from novacron_runbooks.patching.images import AffectedImages
from novacron_runbooks.patching.inventory import ClusterInventory
from novacron_runbooks.patching.plan import approval_window, build_plan, describe, patched_workloads, summary
from novacron_runbooks.patching.verify import pod_problems, untouched_problems
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment
from novacron_runbooks.release.gates import SERVICE, service_error_gate
from novacron_runbooks.release.history import ReleaseHistory

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook


def find_affected(runbook: Runbook, params: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scan the namespace, plan each workload's path; nothing affected skips the rest of the run."""
    evidence = current_evidence()
    inventory = ClusterInventory()
    found = inventory.scan(AffectedImages.from_refs(params["affected_images"]))
    if inventory.not_served:
        evidence.note(f"the cluster serves no {', '.join(inventory.not_served)}: not scanned")
    cluster = ReleaseCluster(inventory.api_client, inventory.namespace)
    active = cluster.active_colour()
    plan = build_plan(found, active, cluster.require(colour_deployment(active)).image, params)
    plan["affected_images"] = list(params["affected_images"])
    plan["approval_window"] = f"{approval_window(runbook, params['severity']).total_seconds() / 60:g} minutes"
    plan["summary"] = summary(plan)
    workloads = patched_workloads(plan)
    evidence.measure(
        "affected_workloads",
        [f"{c['kind']}/{c['name']}" for c in workloads + plan["unpatchable"]],
        "success",
        unowned_pods=plan["unowned_pods"],
        untouched=sorted(plan["untouched"]),
    )
    evidence.note(f"{params['cve_id']} ({params['severity']}), patched image {plan['patched_image']}:")
    for line in plan["summary"].splitlines():
        evidence.note(line.removeprefix("- "))
    if not workloads and not plan["unpatchable"] and not plan["unowned_pods"]:
        raise AirflowSkipException(f"nothing runs an image affected by {params['cve_id']}: nothing to patch")
    if not workloads:
        raise AirflowFailException(f"{params['cve_id']}: what runs an affected image cannot be patched here")
    for change in workloads:
        if params["dry_run"]:
            evidence.change(
                f"{change['kind']}/{change['name']}", describe(change, plan["patched_image"]), False
            )
    plan["gate_delay_seconds"] = actions.verdict_delay_seconds()
    post_slack(context, runbook.owner.slack_channel, f":lock: {params['cve_id']} affects:\n{plan['summary']}")
    return plan


def preview_gate(ceiling: float) -> None:
    """Dry run: one look at the service's error ratio now, recorded; the real gate runs after a patch."""
    spec = service_error_gate("post_patch_preview", ceiling).render({"service": SERVICE, "window": "1m"})
    result = measure(spec, PrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds))
    current_evidence().measure(spec.name, result.value, result.verdict, result.query, reason=result.reason)


def _cause(plan: dict[str, Any], context: Any) -> str:
    return f"security patch {plan['cve_id']} by {actions.run_holder(context)}"


def patch_application(runbook: str, plan: dict[str, Any], dry_run: bool, context: Any) -> int | None:
    """Record the patched release in the history and roll the API's live colour (the hotfix's path)."""
    app = plan["application"]
    if app is None:
        current_evidence().note("the application's live colour runs no affected image")
        return None
    revision = None
    if not dry_run:
        revision = actions.record_in_place_release(
            ReleaseCluster(),
            context,
            runbook,
            plan["patched_image"],
            plan["active_colour"],
            reason=f"{plan['cve_id']} ({plan['severity']}): security patch",
            note=f"security patch: {plan['cve_id']}",
        )
    rollout.set_images(
        app, plan["patched_image"], cause=_cause(plan, context), dry_run=dry_run, revision=revision
    )
    return revision


def patch_workloads(plan: dict[str, Any], dry_run: bool, context: Any) -> None:
    """Start the rolling update of every other affected Deployment (the wait is the next step's)."""
    if not plan["workloads"]:
        current_evidence().note("no other workload runs an affected image")
    for change in plan["workloads"]:
        rollout.set_images(change, plan["patched_image"], cause=_cause(plan, context), dry_run=dry_run)


def wait_patched(plan: dict[str, Any], timeout: float, dry_run: bool) -> None:
    rollout.wait_all(patched_workloads(plan), plan["patched_image"], timeout, dry_run)


def undo(plan: dict[str, Any], revision: int | None, dry_run: bool, result: str, timeout: float) -> None:
    """Put every patched workload back on its old images, wait for them, and close the release record."""
    changes = list(reversed(patched_workloads(plan)))
    for change in changes:
        rollout.set_images(change, "", cause=f"security patch {plan['cve_id']} {result}", dry_run=dry_run)
    rollout.wait_all(changes, "", timeout, dry_run)
    if revision is not None and not dry_run:
        ReleaseHistory(ReleaseCluster()).finish(revision, result, note=f"security patch: {plan['cve_id']}")  # type: ignore[arg-type]
    evidence = current_evidence()
    evidence.verdict = "rollback"
    evidence.note(f"{plan['cve_id']} is exposed again on {len(changes)} workloads: escalate")


def _problems(plan: dict[str, Any], inventory: ClusterInventory, affected: AffectedImages) -> list[str]:
    evidence = current_evidence()
    problems: list[str] = []
    for change in patched_workloads(plan):
        pods = inventory.pods_of(change["kind"], change["name"])
        found = pod_problems(change, pods, plan["patched_image"], affected)
        verdict = "failure" if found else "success"
        evidence.measure(
            "pods_patched", f"{len(pods)} pods", verdict, workload=f"{change['kind']}/{change['name']}"
        )
        problems += found
    problems += untouched_problems(inventory, plan["untouched"])
    left = inventory.scan(affected)
    problems += [f"{f.kind}/{f.name} still runs an affected image" for f in left.affected]
    problems += [f"pod {pod} still runs an affected image" for pod in left.unowned_pods]
    return problems


def verify_patched(
    plan: dict[str, Any], revision: int | None, params: dict[str, Any], context: Any, channel: str
) -> None:
    """Prove the patch: pods, the untouched rest, a fresh scan; then report what was patched."""
    evidence = current_evidence()
    if revision is not None:
        ReleaseHistory(ReleaseCluster()).finish(
            revision, "promoted", note=f"security patch: {plan['cve_id']}"
        )
        evidence.change("deployment history", f"revision {revision} promoted", applied=True)
    if params["dry_run"]:
        evidence.note("dry run: nothing was patched, nothing to verify")
        return
    problems = _problems(plan, ClusterInventory(), AffectedImages.from_refs(plan["affected_images"]))
    for change in patched_workloads(plan):
        evidence.note(f"patched {plan['cve_id']}: {describe(change, plan['patched_image'])}")
    evidence.measure(
        "verification", problems or "every pod on the patched image", "failure" if problems else "success"
    )
    if problems:
        post_slack(context, channel, f":warning: {plan['cve_id']} not closed: {'; '.join(problems[:5])}")
        raise AirflowFailException(f"{plan['cve_id']} not closed: {'; '.join(problems[:10])}")
    post_slack(context, channel, f":white_check_mark: {plan['cve_id']} patched:\n{plan['summary']}")
