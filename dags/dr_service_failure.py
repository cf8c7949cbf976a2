"""Application lost: recreate it from the kept manifests with the last good release, switch traffic, verify.

::

    assess >> recreate >> wait_rolled_out >> smoke_check >> switch_traffic >> gate_serving >> record_recovery

``assess`` reads what is left (Service, colour Deployments, the deployment history) and picks the release:
the ``image`` param, else the history's newest good release, else what a surviving colour runs, else the
kept manifests' image (``include/k8s/novacron-api.yaml``, named as a fallback in the plan). ``recreate``
creates only what is missing, from the kept manifests; what still exists is left alone, so a run against a
healthy application verifies it and changes nothing. Traffic moves only after the recreated pods are ready
and answered a smoke check; the gate then judges the release's own requests (the outage's 503s carry no
version). The RTO runs from the alert's ``starts_at`` (else the run's start) to the green gate; the
application is stateless, so the RPO is 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.rebuild import application, objects
from novacron_runbooks.rebuild.plan import KEPT_FALLBACK_NOTE, outage_start
from novacron_runbooks.release import actions
from novacron_runbooks.release.gates import release_error_gate, release_gate_values
from novacron_runbooks.release.history import ReleaseHistory
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

RUNBOOK = catalog_runbook("dr_service_failure")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
ROLLOUT_TIMEOUT_SECONDS = 300
SMOKE_SECONDS = 6
GATE_WINDOW_SECONDS = 15
SERVING = release_error_gate("serving", ERROR_CEILING, count=2, interval_seconds=4)
"""Two measurements of the recreated release's own error ratio after the switch."""
PLAN = "{{ ti.xcom_pull(task_ids='assess')['%s'] }}"


with runbook_dag(RUNBOOK.name, max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def assess(params: dict[str, Any]) -> dict[str, Any]:
        """Read what is left and decide the release, the colour and what to recreate; change nothing."""
        evidence = current_evidence()
        cluster = application.target_cluster(params["target_cluster"])
        found = application.survey(cluster)
        if found.live is None and params["target_cluster"] == "standby":
            found = application.survey(cluster, application.target_cluster("current"))
        plan = application.build_plan(cluster, found, params["image"])
        plan["version"] = application.serving_version(plan)
        plan["gate_delay_seconds"] = actions.verdict_delay_seconds()
        evidence.note(f"release {plan['image']} on {plan['colour']}, from {plan['source']}")
        if plan["source"] == "kept manifests":
            evidence.note(KEPT_FALLBACK_NOTE)
        if application.changes_traffic(plan):
            evidence.note(f"lost: {', '.join(plan['lost']) or 'nothing'}; scale up: {plan['scale_up']}")
        else:
            evidence.note("the application is complete and served by its colour: verify only")
        return plan

    @runbook_step
    def recreate(plan: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """Create the missing objects (not the Service: traffic waits for the smoke check)."""
        evidence = current_evidence()
        dry_run = bool(params["dry_run"])
        cluster = application.target_cluster(params["target_cluster"])
        created = []
        for obj in plan["create"]:
            name = f"{obj['kind']} {obj['metadata']['name']}"
            evidence.change(name, "create from the kept manifests", applied=not dry_run)
            if not dry_run and objects.create(cluster, obj):
                created.append(name)
        if plan["scale_up"]:
            actions.roll_out(
                cluster,
                plan["deployment"],
                plan["image"],
                plan["replicas"],
                cause=f"recovery by {actions.run_holder(get_current_context())}",
                revision=plan["revision"],
                dry_run=dry_run,
            )
        if not plan["create"] and not plan["scale_up"]:
            evidence.note("nothing to recreate")
        return created

    @runbook_step
    def wait_rolled_out(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Wait until the serving colour is rolled out; stuck pods fail at once with their reason."""
        cluster = application.target_cluster(params["target_cluster"])
        if params["dry_run"] and cluster.workload(plan["deployment"]) is None:
            current_evidence().note(f"dry run: would wait for {plan['deployment']} once created")
            return
        actions.wait_ready(cluster, plan["deployment"], ROLLOUT_TIMEOUT_SECONDS, bool(params["dry_run"]))

    @runbook_step
    def smoke_check(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Preview traffic to the serving colour's pods only: every answer must be the expected release."""
        application.smoke_check_rebuilt(
            plan, params["target_cluster"], bool(params["dry_run"]), SMOKE_SECONDS, ERROR_CEILING
        )

    @runbook_step
    def switch_traffic(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Point the Service and the autoscaler at the serving colour; create the Service when it is gone."""
        dry_run = bool(params["dry_run"])
        if not params["switch_traffic"]:
            raise AirflowSkipException("switch_traffic is off: the caller cuts traffic over itself")
        application.route_traffic(application.target_cluster(params["target_cluster"]), plan, dry_run)
        if dry_run and application.changes_traffic(plan):
            raise AirflowSkipException("dry run: nothing serves the recovered release yet; no gate to judge")

    @runbook_step(trigger_rule=TriggerRule.NONE_FAILED)
    def record_recovery(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Report the RTO (outage start to verified) and RPO 0; record a recreated release in the history."""
        context = get_current_context()
        evidence = current_evidence()
        started, source = outage_start(params["alert"], context["dag_run"].run_after)
        seconds = (datetime.now(tz=UTC) - started).total_seconds()
        if params["dry_run"]:
            evidence.note(f"dry run: nothing recovered ({seconds:.1f} s since {source})")
            return
        evidence.metric("rto_seconds", round(seconds, 2))
        evidence.metric("rpo_seconds", 0.0)
        evidence.note(f"RTO measured from: {source} ({started.isoformat()})")
        if not application.changes_traffic(plan) or not params["switch_traffic"]:
            return  # nothing recovered, or the caller records the release once it cut traffic over
        cluster = application.target_cluster(params["target_cluster"])
        ReleaseHistory(cluster).record_for_run(
            actions.run_holder(context),
            RUNBOOK.name,
            image=plan["serving_image"],
            colour=plan["colour"],
            result="restored",
            reason=params.get("reason") or "application recreated",
            notes=[f"release from {plan['source']}; recreated: {', '.join(plan['lost']) or 'none'}"],
        )
        evidence.change("deployment history", f"{plan['serving_image']} restored on {plan['colour']}", True)

    plan = assess()
    switched = recreate(plan) >> wait_rolled_out(plan) >> smoke_check(plan) >> switch_traffic(plan)
    gate = PrometheusGateSensor(
        task_id="gate_serving",
        gate=SERVING,
        values=release_gate_values(PLAN % "version", GATE_WINDOW_SECONDS),
        overrides={"initial_delay_seconds": PLAN % "gate_delay_seconds"},
        notify_channel=RUNBOOK.owner.slack_channel,
        retries=0,
    )
    switched >> gate >> record_recovery(plan)
