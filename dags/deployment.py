"""Standard production deployment (blue-green): the release goes to the idle colour, then takes the traffic.

::

    preflight >> deploy_idle >> wait_idle_ready >> smoke_check >> gate_pre_promotion
        ├─ proceed  → switch_traffic >> gate_post_promotion
        │                 ├─ proceed  → record_promoted >> wait_before_scale_down >> scale_down_old
        │                 └─ rollback → switch_back                  (traffic on the old colour again)
        └─ rollback → abort_release                                  (idle colour back to zero)
    clean_up_failed_rollout: when deploying, waiting or smoke-checking fails, the idle colour goes to zero

The old colour stays up until ``scale_down_delay_seconds`` after promotion, so both the post-promotion gate's
rollback and a rollback runbook started in that time are a selector switch. Every result is written to the
deployment history in the cluster, which the rollback runbook reads.

In a dry run nothing changes: the steps read the cluster and record their plan, and the gates measure the live
release (the new one is not deployed), so the plan shows whether the gates would pass right now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.gate import metric_gate
from novacron_runbooks.dagkit.params import require_image
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment, other_colour
from novacron_runbooks.release.gates import (
    image_version,
    release_error_gate,
    release_gate_values,
)
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("deployment")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
GATE_WINDOW_SECONDS = 30
POST_GATE_INTERVAL_SECONDS = 10
PREVIEW_SECONDS = 15
"""Least preview traffic to the idle colour: several scrapes, so the pre-promotion gate sees it as a rate."""
PLAN = "{{ ti.xcom_pull(task_ids='preflight')['%s'] }}"

PRE_PROMOTION = release_error_gate("pre_promotion", ERROR_CEILING)
POST_PROMOTION = release_error_gate(
    "post_promotion",
    ERROR_CEILING,
    count=12,
    interval_seconds=POST_GATE_INTERVAL_SECONDS,
    initial_delay_seconds=POST_GATE_INTERVAL_SECONDS,
)
"""12 measurements 10 s apart is the default 120 s; ``analysis_seconds`` sets the count per run."""


def _release_cause(params: dict[str, Any], context: Any) -> str:
    ticket = params.get("change_ticket") or "no ticket"
    return f"{ticket}: deployment {params['image']} by {actions.run_holder(context)}"


def _restore(plan: dict[str, Any], revision: int | None, params: dict[str, Any], result: str) -> None:
    """Traffic on the old colour, the new colour at zero, the history says why (idempotent)."""
    dry_run = bool(params["dry_run"])
    cluster = ReleaseCluster()
    actions.switch_traffic(cluster, plan["active"], dry_run)
    actions.roll_out(
        cluster,
        plan["idle_deployment"],
        plan["image"],
        0,
        cause=f"{result}: {plan['cause']}",
        revision=revision,
        dry_run=dry_run,
    )
    if revision is not None and not dry_run:
        ReleaseHistory(cluster).finish(revision, result)  # type: ignore[arg-type]
        current_evidence().change("deployment history", f"revision {revision} {result}", applied=True)


with runbook_dag(RUNBOOK.name, checks=(require_image("image"),)) as rb:

    @runbook_step
    def preflight(params: dict[str, Any]) -> dict[str, Any]:
        """Cluster reachable, active colour known, service healthy (error rate under the ceiling)."""
        context = get_current_context()
        evidence = current_evidence()
        cluster = ReleaseCluster()
        history = ReleaseHistory(cluster)
        active = cluster.active_colour()
        idle = other_colour(active)
        live = cluster.require(colour_deployment(active))
        actions.refuse_held_canary(cluster)
        evidence.note(f"active colour {active} runs {live.image} ({live.ready}/{live.replicas} ready)")
        actions.require_service_healthy(ERROR_CEILING, "a release")
        if live.image == params["image"]:
            raise AirflowSkipException(f"{params['image']} is already live on {active}; nothing to deploy")
        dry_run = bool(params["dry_run"])
        previous = (
            None
            if dry_run
            else actions.adopt_live_release(cluster, history, active, actions.run_holder(context))
        )
        new_version = image_version(params["image"])
        delay = actions.verdict_delay_seconds()
        plan = {
            "active": active,
            "idle": idle,
            "active_deployment": colour_deployment(active),
            "idle_deployment": colour_deployment(idle),
            "replicas": max(live.replicas, 1),
            "old_image": live.image,
            "image": params["image"],
            "new_version": new_version,
            # a dry run deploys nothing: its gates measure the live release instead
            "version": image_version(live.image) if dry_run else new_version,
            "replaced": previous.revision if previous else None,
            "cause": _release_cause(params, context),
            "gate_delay_seconds": delay,
            "preview_seconds": max(PREVIEW_SECONDS, 3 * delay),
        }
        evidence.note(f"plan: {plan['image']} to {idle}, then switch traffic {active} → {idle}")
        return plan

    @runbook_step
    def deploy_idle(plan: dict[str, Any], params: dict[str, Any]) -> int | None:
        """Record the release in the history, then roll the image out on the idle colour."""
        context = get_current_context()
        dry_run = bool(params["dry_run"])
        cluster = ReleaseCluster()
        revision = None
        if not dry_run:
            history = ReleaseHistory(cluster)
            holder = actions.run_holder(context)
            record = history.record_for_run(
                holder,
                RUNBOOK.name,
                image=plan["image"],
                colour=plan["idle"],
                change_ticket=params.get("change_ticket") or "",
                reason=params.get("reason") or "",
                replaced=plan["replaced"],
            )
            revision = record.revision
            current_evidence().note(f"deployment history: revision {revision}")
        actions.roll_out(
            cluster,
            plan["idle_deployment"],
            plan["image"],
            plan["replicas"],
            cause=plan["cause"],
            revision=revision,
            dry_run=dry_run,
        )
        return revision

    @runbook_step
    def wait_idle_ready(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Wait until every pod of the idle colour is ready; stuck pods fail the rollout at once."""
        actions.wait_ready(
            ReleaseCluster(), plan["idle_deployment"], params["rollout_timeout_seconds"], params["dry_run"]
        )

    @runbook_step
    def smoke_check(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Send preview traffic to the idle colour's pods only, before any user reaches them."""
        target, version = plan["idle_deployment"], plan["new_version"]
        if params["dry_run"]:
            target, version = plan["active_deployment"], plan["version"]
        actions.smoke_check(target, version, plan["preview_seconds"], ERROR_CEILING)

    @runbook_step
    def switch_traffic(plan: dict[str, Any], params: dict[str, Any]) -> str:
        """Point the Service at the new colour; from here users are on the new release."""
        actions.switch_traffic(ReleaseCluster(), plan["idle"], params["dry_run"])
        return datetime.now(tz=UTC).isoformat()

    @runbook_step
    def record_promoted(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Record the new release as the live one (the post-promotion gate passed)."""
        if revision is None:
            current_evidence().change("deployment history", "record promoted", applied=False)
            return
        ReleaseHistory(ReleaseCluster()).finish(revision, "promoted")
        current_evidence().change("deployment history", f"revision {revision} promoted", applied=True)

    @runbook_step
    def scale_down_old(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Scale the old colour to zero, unless traffic went back to it meanwhile."""
        cluster = ReleaseCluster()
        if not params["dry_run"] and cluster.active_colour() != plan["idle"]:
            raise AirflowSkipException("traffic is no longer on the new colour; the old colour stays up")
        actions.roll_out(
            cluster,
            plan["active_deployment"],
            plan["old_image"],
            0,
            cause=plan["cause"],
            revision=None,
            dry_run=params["dry_run"],
        )

    @runbook_step(retries=3)
    def switch_back(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Send traffic back to the old colour at once, then the new one to zero (post-promotion failed)."""
        _restore(plan, revision, params, "rolled-back")

    @runbook_step(retries=3)
    def abort_release(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Scale the idle colour back to zero (pre-promotion gate failed: users never saw the release)."""
        _restore(plan, revision, params, "aborted")
        current_evidence().verdict = "rollback"

    @runbook_step(trigger_rule=TriggerRule.ONE_FAILED, retries=3)
    def clean_up_failed_rollout(params: dict[str, Any]) -> None:
        """Put traffic on the old colour and the new one to zero (the rollout or the smoke check failed)."""
        ti = get_current_context()["ti"]
        plan = ti.xcom_pull(task_ids="preflight")
        if not plan:
            raise AirflowSkipException("preflight did not finish: nothing was changed")
        _restore(plan, ti.xcom_pull(task_ids="deploy_idle"), params, "failed")

    plan = preflight()
    revision = deploy_idle(plan)
    ready = wait_idle_ready(plan)
    smoked = smoke_check(plan)
    switched = switch_traffic(plan)
    promoted = record_promoted(plan, revision)
    back = switch_back(plan, revision)
    aborted = abort_release(plan, revision)
    scale_down_wait = DateTimeSensorAsync(
        task_id="wait_before_scale_down",
        target_time=(
            "{{ (macros.datetime.now(macros.datetime.now().astimezone().tzinfo) "
            "+ macros.timedelta(seconds=params.scale_down_delay_seconds)).isoformat() }}"
        ),
    )
    revision >> ready >> smoked
    version_values = release_gate_values(PLAN % "version", GATE_WINDOW_SECONDS)
    pre_gate = metric_gate(
        PRE_PROMOTION,
        on_proceed=switched,
        on_rollback=aborted,
        values=version_values,
        overrides={"initial_delay_seconds": PLAN % "gate_delay_seconds"},
        notify_channel=RUNBOOK.owner.slack_channel,
    )
    post_gate = metric_gate(
        POST_PROMOTION,
        on_proceed=promoted,
        on_rollback=back,
        values=version_values,
        overrides={"count": f"{{{{ [1, params.analysis_seconds // {POST_GATE_INTERVAL_SECONDS}] | max }}}}"},
        notify_channel=RUNBOOK.owner.slack_channel,
    )
    smoked >> pre_gate
    switched >> post_gate
    promoted >> scale_down_wait >> scale_down_old(plan)
    [revision, ready, smoked] >> clean_up_failed_rollout()
