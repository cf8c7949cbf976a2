"""Full platform rebuild: database, services, DWCP agents, verification, then a cut-over a person approves.

::

    assess_platform >> route_database ─┬─> recover_database (child run: dr_database_failure)
                                       └─> database_healthy (the primary answers and takes writes: skipped)
        >> recover_services (child run: dr_service_failure, traffic left to this run)
        >> recover_agents >> plan_cutover >> verify_database >> verify_api >> route_cutover
        ─┬─> approve_cutover (default Reject) ─┬─> cut_over >> gate_serving >> record_recovery
         │                                    └─> cutover_rejected (run fails: rebuilt, serving nothing new)
         └─> cut_over (dry run: the plan only)

The database is recovered only when it needs it (no writable primary): promoting or restoring a healthy
database would lose writes for nothing. The children run as real runs of their own DAGs (each with its own
lock, report, RTO and RPO), get this run's reason, alert and dry-run switch, and carry run ids derived from
this run's, so clearing a stage reruns the same child. Traffic moves once, here, after the verification suite
passed and a person approved. The RTO runs from the alert's ``starts_at`` (else the run's start) to the green
gate; the RPO is the database child's (0 when the primary never went away).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.rebuild import agents, application, children, database, manifests
from novacron_runbooks.rebuild.plan import outage_start
from novacron_runbooks.release import actions
from novacron_runbooks.release.gates import release_error_gate, release_gate_values
from novacron_runbooks.release.history import ReleaseHistory
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

RUNBOOK = catalog_runbook("dr_complete_recovery")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
APPROVAL_TIMEOUT = timedelta(minutes=RUNBOOK.threshold("cutover_approval_timeout").value)
CHILD_POKE_SECONDS = 10
SMOKE_SECONDS = 6
GATE_WINDOW_SECONDS = 15
SERVING = release_error_gate("serving", ERROR_CEILING, count=2, interval_seconds=4)
CUTOVER = "{{ ti.xcom_pull(task_ids='plan_cutover')['%s'] }}"
CUT_OVER, REJECT = "Cut over", "Reject"


def _child(child_dag_id: str, conf: Any, **kwargs: Any) -> TriggerDagRunOperator:
    """Run ``child_dag_id`` as a child run and wait for it; a failed child fails this stage."""
    stage = children.STAGES[child_dag_id]
    return TriggerDagRunOperator(
        task_id=f"recover_{stage}",
        trigger_dag_id=child_dag_id,
        trigger_run_id="{{ run_id }}__" + stage,
        conf=conf,
        # a cleared stage reruns the same child run (the DR runbooks are idempotent), never a second one
        reset_dag_run=True,
        wait_for_completion=True,
        poke_interval=CHILD_POKE_SECONDS,
        allowed_states=["success"],
        failed_states=["failed"],
        fail_when_dag_is_paused=True,
        deferrable=True,
        # one retry reruns the child run once on a transient trigger error; its own runbook then resumes
        retries=1,
        **kwargs,
    )


with runbook_dag(RUNBOOK.name, max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def assess_platform() -> dict[str, Any]:
        """Look at each layer before changing any: a writable primary, the application, the agents."""
        evidence = current_evidence()
        cluster = application.target_cluster("current")
        primary = database.primary_state(database.application_address(cluster))
        evidence.measure("primary_writable", primary.writable, "pass" if primary.writable else "fail")
        evidence.note(f"database: {primary.reason}")
        found = application.survey(cluster)
        evidence.note(
            f"application: Service on {found.service_colour or 'nothing (gone)'}, "
            f"colours with ready pods {sorted(found.running) or 'none'}"
        )
        agent = cluster.workload(manifests.DWCP_AGENT)
        evidence.note(f"dwcp-agent: {f'{agent.ready}/{agent.replicas} ready' if agent else 'gone'}")
        return {"database_writable": primary.writable, "database_reason": primary.reason}

    @task.branch(task_id="route_database")
    def route_database(platform: dict[str, Any]) -> str:
        """Recover the database only when no writable primary answers."""
        return "database_healthy" if platform["database_writable"] else "recover_database"

    @runbook_step
    def database_healthy(platform: dict[str, Any]) -> None:
        """Record why the database stage is skipped: the primary answered and accepts writes."""
        current_evidence().note(f"database recovery not needed: {platform['database_reason']}")

    @runbook_step
    def child_conf(params: dict[str, Any]) -> dict[str, Any]:
        """Build what the children are told: this run's reason, alert, dry-run switch and identity."""
        return children.child_conf(params, actions.run_holder(get_current_context()))

    @runbook_step
    def services_conf(common: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Tell the services child to recreate and verify only: traffic moves here, after the approval."""
        return {**common, "target_cluster": params["target_cluster"], "switch_traffic": False}

    @runbook_step
    def recover_agents(params: dict[str, Any]) -> None:
        """Recreate the DWCP agents from the kept manifest when lost; wait until every agent is ready."""
        agents.recover_agents(application.target_cluster(params["target_cluster"]), bool(params["dry_run"]))

    @runbook_step(retries=1)
    def plan_cutover(params: dict[str, Any]) -> dict[str, Any]:
        """Read the rebuilt application: which colour and release the cut-over will send traffic to."""
        cluster = application.target_cluster(params["target_cluster"])
        plan = application.build_plan(cluster, application.survey(cluster), "")
        plan["version"] = application.serving_version(plan)
        plan["gate_delay_seconds"] = actions.verdict_delay_seconds()
        current_evidence().note(f"cut over to {plan['serving_image']} on {plan['colour']}")
        return plan

    @runbook_step
    def verify_database(params: dict[str, Any]) -> None:
        """Read the tables where the application connects and, live, commit an audit write and read it."""
        write = not params["dry_run"]
        address = database.application_address(application.target_cluster(params["target_cluster"]))
        if not write and not database.primary_state(address).writable:
            current_evidence().note("dry run: no writable primary yet (a live run recovers it first)")
            return
        holder = actions.run_holder(get_current_context())
        counts = database.verify_reads_writes(address, holder, write=write)
        current_evidence().measure("database_reads_writes", counts, "pass")
        if not write:
            current_evidence().note("dry run: reads only, the verification write is skipped")

    @runbook_step
    def verify_api(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Smoke-check the rebuilt colour's own pods (preview routing): every answer the expected release."""
        application.smoke_check_rebuilt(
            plan, params["target_cluster"], bool(params["dry_run"]), SMOKE_SECONDS, ERROR_CEILING
        )

    @task.branch(task_id="route_cutover")
    def route_cutover(**context: Any) -> str:
        """Ask for the approval in a live run; a dry run shows the cut-over plan without asking anyone."""
        return "cut_over" if context["params"]["dry_run"] else "approve_cutover"

    approve = RecordedHITLBranchOperator(
        task_id="approve_cutover",
        subject="Full recovery: cut production traffic over to the rebuilt platform?",
        body=(
            "The verification suite passed: database reads and a committed write, the API's smoke check on "
            f"`{CUTOVER % 'deployment'}` (`{CUTOVER % 'serving_image'}`), the DWCP agents ready.\n\n"
            f"Without an answer within {APPROVAL_TIMEOUT} the cut-over is rejected and traffic stays put."
        ),
        options=[CUT_OVER, REJECT],
        defaults=[REJECT],
        options_mapping={CUT_OVER: "cut_over", REJECT: "cutover_rejected"},
        response_timeout=APPROVAL_TIMEOUT,
        retries=0,
    )

    @runbook_step
    def cutover_rejected() -> None:
        """Fail the run: the rebuilt platform stays out of traffic, unresolved, and keeps escalating."""
        current_evidence().verdict = "hold"
        raise AirflowFailException("cut-over rejected (or not approved in time): traffic was not moved")

    @runbook_step(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def cut_over(plan: dict[str, Any], params: dict[str, Any]) -> str:
        """Point the Service and the autoscaler at the rebuilt colour (creating the Service when gone)."""
        dry_run = bool(params["dry_run"])
        application.route_traffic(application.target_cluster(params["target_cluster"]), plan, dry_run)
        if dry_run and application.changes_traffic(plan):
            raise AirflowSkipException("dry run: nothing serves the rebuilt release yet; no gate to judge")
        return str(plan["colour"])

    @runbook_step(trigger_rule=TriggerRule.NONE_FAILED)
    def record_recovery(platform: dict[str, Any], plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Report the RTO (outage start to the green gate) and the RPO, with each child's figures."""
        context = get_current_context()
        evidence = current_evidence()
        started, source = outage_start(params["alert"], context["dag_run"].run_after)
        seconds = (datetime.now(tz=UTC) - started).total_seconds()
        if params["dry_run"]:
            evidence.note(f"dry run: nothing recovered ({seconds:.1f} s since {source})")
            return
        if context["ti"].xcom_pull(task_ids="cut_over") is None:
            raise AirflowSkipException("traffic was not cut over: nothing recovered to report")
        figures = {}
        for child in (children.DATABASE_CHILD, children.SERVICES_CHILD):
            run_id = children.child_run_id(context["dag_run"].run_id, child)
            figures[child] = children.child_figures(child, run_id)
            for name, value in figures[child].items():
                evidence.metric(f"{children.STAGES[child]}_{name}", value)
        evidence.metric("rto_seconds", round(seconds, 2))
        rpo = children.platform_rpo(not platform["database_writable"], figures[children.DATABASE_CHILD])
        if rpo is None:
            evidence.note("the database child reported no RPO: unknown, not claimed")
        else:
            evidence.metric("rpo_seconds", rpo)
        evidence.note(f"RTO measured from: {source} ({started.isoformat()})")
        ReleaseHistory(application.target_cluster(params["target_cluster"])).record_for_run(
            actions.run_holder(context),
            RUNBOOK.name,
            image=plan["serving_image"],
            colour=plan["colour"],
            result="restored",
            reason=params.get("reason") or "full platform recovery",
        )

    platform = assess_platform()
    common = child_conf()
    recover_database = _child(children.DATABASE_CHILD, common)
    healthy = database_healthy(platform)
    route_database(platform) >> [recover_database, healthy]
    recover_services = _child(
        children.SERVICES_CHILD,
        services_conf(common),
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )
    [recover_database, healthy] >> recover_services
    plan = plan_cutover()
    recover_services >> recover_agents() >> plan
    routed = route_cutover()
    plan >> verify_database() >> verify_api(plan) >> routed
    moved = cut_over(plan)
    routed >> [approve, moved]
    approve >> [moved, cutover_rejected()]
    gate = PrometheusGateSensor(
        task_id="gate_serving",
        gate=SERVING,
        values=release_gate_values(CUTOVER % "version", GATE_WINDOW_SECONDS),
        overrides={"initial_delay_seconds": CUTOVER % "gate_delay_seconds"},
        notify_channel=RUNBOOK.owner.slack_channel,
        retries=0,
    )
    moved >> gate >> record_recovery(platform, plan)
