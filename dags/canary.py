"""Canary release (progressive rollout): the release takes a growing share of traffic, judged at each step.

::

    preflight >> create_canary >> canary_steps >> route_canary
        ├─ proceed  → promote                  (stable takes the new image, the canary is removed)
        ├─ rollback → abort_canary             (canary to 0 and deleted; stable never touched)
        ├─ freeze   → freeze_canary            (not used by the canary's gates, which abort)
        └─ ask      → decide_canary (a person) ─┬─ Promote   → promote
                                                ├─ Hold      → hold_canary (the canary stays for a look)
                                                └─ Roll back → abort_canary (the default on timeout)
    clean_up_failed_canary: when creating the canary or the step loop fails, the canary is removed

``canary_steps`` is one deferrable operator: for each step below 100 % it sizes the canary so its share of
ready replicas approximates the step (stable keeps its replicas), waits for the pods, and defers to a trigger
that runs the step's gates (error rate and p95 latency, canary against stable) concurrently; the first failed
gate ends the step. Reaching 100 % is the promotion. Before anything changes, ``validate_params`` refuses
steps that are not ascending to 100, an interval too short for Prometheus' scrape interval, and any
configuration whose worst-case time to abort exceeds the catalog's rollback budget.

In a dry run nothing changes: the plan shows each step's replicas and real traffic share and the worst-case
abort time; stable's error rate and latency are measured against the ceilings (there is no canary to compare).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.gate import route_gate
from novacron_runbooks.dagkit.notify import post_slack, run_label
from novacron_runbooks.dagkit.params import require_image
from novacron_runbooks.gates.budget import budget_seconds
from novacron_runbooks.operators.canary import CanaryRolloutOperator
from novacron_runbooks.release import actions
from novacron_runbooks.release.canary import (
    check_abort_budget,
    check_scrape_interval,
    check_steps,
    step_plan,
    worst_case_abort_seconds,
)
from novacron_runbooks.release.cluster import CANARY, ReleaseCluster, colour_deployment
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("canary")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
ABORT_BUDGET_SECONDS = budget_seconds(RUNBOOK, "abort_budget")
PROMOTE_TIMEOUT_SECONDS = 600
CHANNEL = RUNBOOK.owner.slack_channel


def _cause(params: dict[str, Any], context: Any) -> str:
    return f"canary {params['image']} by {actions.run_holder(context)}: {params.get('reason') or 'no reason'}"


def _remove_canary(cluster: ReleaseCluster, dry_run: bool) -> None:
    """Scale the canary to zero (its pods leave the Service), then delete it; idempotent."""
    evidence = current_evidence()
    canary = cluster.workload(CANARY)
    if canary is None:
        evidence.note(f"{CANARY} does not exist: nothing to remove")
        return
    evidence.change(CANARY, f"replicas {canary.replicas} → 0, then delete", applied=not dry_run)
    if not dry_run:
        cluster.scale(CANARY, 0)
        cluster.delete(CANARY)


def _finish_history(revision: int | None, result: str) -> None:
    if revision is None:
        current_evidence().change("deployment history", f"record {result}", applied=False)
        return
    ReleaseHistory(ReleaseCluster()).finish(revision, result)  # type: ignore[arg-type]
    current_evidence().change("deployment history", f"revision {revision} {result}", applied=True)


with runbook_dag(
    RUNBOOK.name,
    checks=(require_image("image"), check_steps, check_abort_budget(RUNBOOK), check_scrape_interval),
) as rb:

    @runbook_step
    def preflight(params: dict[str, Any]) -> dict[str, Any]:
        """Check stable is healthy and rolled out, the service under the error ceiling, the image not live."""
        context = get_current_context()
        evidence = current_evidence()
        cluster = ReleaseCluster()
        active = cluster.active_colour()
        stable_name = colour_deployment(active)
        stable = cluster.require(stable_name)
        evidence.note(f"stable {stable_name} runs {stable.image} ({stable.ready}/{stable.replicas} ready)")
        if stable.replicas < 1 or not stable.rolled_out:
            raise AirflowFailException(
                f"preflight: stable {stable_name} is not healthy and rolled out "
                f"({stable.ready}/{stable.replicas} ready, {stable.updated} updated): finish that first"
            )
        actions.require_service_healthy(ERROR_CEILING, "a canary")
        if stable.image == params["image"]:
            raise AirflowSkipException(f"{params['image']} is already live on {active}; nothing to roll out")
        leftover = cluster.workload(CANARY)
        if leftover is not None:
            evidence.note(f"{CANARY} from an earlier run ({leftover.image}) will be replaced by this one")
        dry_run = bool(params["dry_run"])
        previous = (
            None
            if dry_run
            else actions.adopt_live_release(
                cluster, ReleaseHistory(cluster), active, actions.run_holder(context)
            )
        )
        worst = worst_case_abort_seconds(params, RUNBOOK)
        steps = step_plan(stable.replicas, params["steps"])
        for step in steps:
            evidence.note(
                f"step {step['step']}: {step['weight']}% asked → "
                + (
                    f"{step['canary_replicas']} canary next to {stable.replicas} stable = {step['share']}%"
                    if step["canary_replicas"]
                    else "promote"
                )
            )
        analysed = len(steps) - 1
        evidence.note(
            f"worst-case abort {worst:.0f} s (budget {ABORT_BUDGET_SECONDS:.0f} s); "
            f"promotion after at least {analysed * params['interval_seconds']} s of analysis"
        )
        return {
            "active": active,
            "stable_deployment": stable_name,
            "stable_replicas": stable.replicas,
            "old_image": stable.image,
            "image": params["image"],
            "steps": list(params["steps"]),
            "step_plan": steps,
            "interval_seconds": params["interval_seconds"],
            "analysis": dict(params["analysis"]),
            "dry_run": dry_run,
            "replaced": previous.revision if previous else None,
            "cause": _cause(params, context),
            "worst_case_abort_seconds": round(worst, 1),
        }

    @runbook_step
    def create_canary(plan: dict[str, Any], params: dict[str, Any]) -> int | None:
        """Record the release in the history, then create the canary at 0 replicas (the loop sizes it)."""
        context = get_current_context()
        evidence = current_evidence()
        what = f"create with {plan['image']} at 0 replicas, pods color={plan['active']}, track=canary"
        if plan["dry_run"]:
            evidence.change(CANARY, what, applied=False)
            return None
        cluster = ReleaseCluster()
        history = ReleaseHistory(cluster)
        holder = actions.run_holder(context)
        record = history.record_for_run(
            holder,
            RUNBOOK.name,
            image=plan["image"],
            colour=plan["active"],
            reason=params.get("reason") or "",
            replaced=plan["replaced"],
        )
        evidence.note(f"deployment history: revision {record.revision}")
        cluster.create_canary(plan["image"], plan["active"], 0, plan["cause"])
        evidence.change(CANARY, what, applied=True, at=datetime.now(tz=UTC).isoformat())
        return record.revision

    @runbook_step
    def promote(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Stable takes the new image (a rolling update), then the canary is removed."""
        dry_run = bool(params["dry_run"])
        cluster = ReleaseCluster()
        stable = cluster.require(plan["stable_deployment"])
        actions.roll_out(
            cluster,
            plan["stable_deployment"],
            plan["image"],
            stable.replicas,
            cause=plan["cause"],
            revision=revision,
            dry_run=dry_run,
        )
        actions.wait_ready(cluster, plan["stable_deployment"], PROMOTE_TIMEOUT_SECONDS, dry_run)
        _remove_canary(cluster, dry_run)
        _finish_history(revision, "promoted")
        if not dry_run:
            post_slack(
                get_current_context(),
                CHANNEL,
                f":rocket: {run_label(get_current_context())}: {plan['image']} promoted on "
                f"{plan['stable_deployment']}; canary removed",
            )

    @runbook_step(retries=3)
    def abort_canary(plan: dict[str, Any], revision: int | None, params: dict[str, Any]) -> None:
        """Canary to zero and deleted; stable is never touched, so users are back on it at once."""
        context = get_current_context()
        evidence = current_evidence()
        _remove_canary(ReleaseCluster(), bool(params["dry_run"]))
        _finish_history(revision, "aborted")
        evidence.verdict = "rollback"
        loop = context["ti"].xcom_pull(task_ids="canary_steps") or {}
        where = f"step {loop.get('step')} ({loop.get('weight')}%)"
        why = str(loop.get("reason") or "no verdict")
        if loop.get("action") != "rollback":
            why = f"a person chose to roll back ({why})"
        elif loop.get("started_at") and not params["dry_run"]:  # automatic: time it against the budget
            took = (datetime.now(tz=UTC) - datetime.fromisoformat(loop["started_at"])).total_seconds()
            evidence.metric("abort_budget_seconds", round(took, 1))
            evidence.note(f"aborted {took:.1f} s after {where} began (budget {ABORT_BUDGET_SECONDS:.0f} s)")
        post_slack(
            context,
            CHANNEL,
            f":rewind: {run_label(context)}: canary {plan['image']} aborted at {where}: {why}; "
            f"stable {plan['stable_deployment']} untouched",
        )

    @runbook_step(trigger_rule=TriggerRule.ONE_FAILED, retries=3)
    def clean_up_failed_canary(params: dict[str, Any]) -> None:
        """Remove the canary when creating it or the loop failed: a crashed loop must not leave it serving."""
        ti = get_current_context()["ti"]
        plan = ti.xcom_pull(task_ids="preflight")
        if not plan:
            raise AirflowSkipException("preflight did not finish: nothing was changed")
        _remove_canary(ReleaseCluster(), bool(params["dry_run"]))
        _finish_history(ti.xcom_pull(task_ids="create_canary"), "failed")

    plan = preflight()
    revision = create_canary(plan)
    loop = CanaryRolloutOperator(task_id="canary_steps", plan=plan, notify_channel=CHANNEL)
    revision >> loop
    route_gate(
        loop,
        "canary",
        on_proceed=promote(plan, revision),
        on_rollback=abort_canary(plan, revision),
        body=(
            "The canary's analysis could not decide (inconclusive: too little traffic, or no data). "
            "Promote makes stable take the new image; Hold leaves the canary at its current weight for a "
            "person to look at; Roll back removes it (stable is untouched)."
        ),
    )
    [revision, loop] >> clean_up_failed_canary()
