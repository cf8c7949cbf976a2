"""Monthly DR drill: a real fault injected into a drill target, the DR runbook run, RTO and RPO measured.

::

    check_target >> database_failure.[inject >> recover >> measure]
                 >> data_corruption.[inject >> (answer, recover) >> measure]
                 >> service_failure.[inject >> recover >> measure]

Each selected scenario (param ``scenarios``) runs in turn:

- ``inject``: a writer commits numbered rows to ``drill_writes`` (a table the drill owns) about 20 times a
  second; after a few acknowledged rows the fault strikes, and the drill records its moment and the last
  acknowledged commit. ``database_failure``: SIGKILL of the primary's postmaster. ``data_corruption``: a bad
  UPDATE (every host running a VM marked failed), whose transaction start is the recorded corruption time.
  ``service_failure``: the API's colour Deployments and Service deleted.
- ``answer`` (data corruption): the DR runbook asks a person whether to repair rows, cut over or abort; the
  drill answers with its param ``corruption_answer`` through Airflow's HITL API, logged in as the user of
  the connection ``novacron_airflow_api``, so the child's report names the drill's account.
- ``recover``: the matching DR runbook (``dr_database_failure``, ``dr_data_corruption``,
  ``dr_service_failure``) as a child run, ``dry_run`` false, waited for.
- ``measure``: RTO from the fault to the child's verified end (the end of the step that recorded its own
  ``rto_seconds``, from its run report); RPO as the acknowledged rows missing after recovery and the
  commit-time window they cover (for corruption, rows acknowledged before the corruption time); both scored
  against the DR runbook's catalog targets, the readiness score computed
  (``novacron_runbooks.drill.readiness``), everything published to the Pushgateway and the report. A drill
  that missed a target fails the run after publishing.

A scheduled run that starts more than an hour after its date (the catch-up run Airflow starts at once when
the DAG is unpaused) skips the drill: the first scheduled drill is the next 1st of the month, 04:00 UTC.

Safety: ``check_target`` refuses to go on unless the connection ``novacron_drill`` carries
``drill_allowed: true`` (the sandbox writes it; production has no such connection). A dry run checks the
target and shows each fault and child run it would start, and changes nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import TaskGroup, TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks import connections
from novacron_runbooks.catalog import scheduled_job
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.drill import faults, scenarios
from novacron_runbooks.drill.approvals import AirflowApi, answer_until_done
from novacron_runbooks.drill.child import verified_end
from novacron_runbooks.drill.metrics import publish_drill
from novacron_runbooks.drill.readiness import DrillResult, met, readiness
from novacron_runbooks.drill.target import require_drill_target, start_exercise
from novacron_runbooks.drill.writer import TABLE_DDL, Writer, measure_loss, survivors
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pushgateway import PushgatewayHook
from novacron_runbooks.release.cluster import ReleaseCluster

JOB = scheduled_job("dr_drill")
ROWS_BEFORE_FAULT = 40
"""About two seconds of acknowledged writes before the fault, so the loss is measured against real traffic."""
CHILD_RUN_ID = "dr_drill__{{ run_id }}"
APPROVALS = {"data_corruption": ("decide", "corruption_answer")}
"""The child's approval task the drill answers, and the drill param holding the answer."""
ANSWER_TIMEOUT_SECONDS = 3 * 3600
CORRUPTION_TIME = "{{ ti.xcom_pull(task_ids='data_corruption.inject')['corruption_time'] }}"


def _drill_key(scenario: str) -> str:
    """Key of this drill's rows; the try number keeps a cleared and re-run inject from reusing them."""
    context = get_current_context()
    return f"{context['run_id']}/{scenario}/{context['ti'].try_number}"


def _inject_database_failure(writer: Writer) -> dict[str, Any]:
    at, node, pid = faults.kill_primary_postmaster(DatabaseNodes.from_connection())
    writer.join(30)  # the next write fails: the writer ends on its own
    return {"fault_at": at.isoformat(), "what": f"SIGKILL postmaster {pid} on {node}"}


def _inject_data_corruption(writer: Writer) -> dict[str, Any]:
    with connect_primary() as conn:
        at, rows = faults.bad_update(conn)
    writer.stop()
    return {
        "fault_at": at.isoformat(),
        "corruption_time": at.isoformat(),
        "what": f"bad UPDATE: {rows} hosts marked failed",
    }


def _inject_service_failure() -> dict[str, Any]:
    at, deleted = faults.delete_application(ReleaseCluster())
    return {"fault_at": at.isoformat(), "what": f"deleted {', '.join(deleted) or 'nothing (already gone)'}"}


def _with_writer(scenario: str) -> dict[str, Any]:
    """Start the writer, let it commit, strike, and return the fault and the writer's acknowledged rows."""
    with connect_primary() as conn:
        conn.execute(TABLE_DDL)
    writer = Writer(connect_primary, _drill_key(scenario))
    writer.start()
    try:
        writer.wait_for(ROWS_BEFORE_FAULT, timeout=30)
        inject = _inject_database_failure if scenario == "database_failure" else _inject_data_corruption
        fault = inject(writer)
    finally:
        writer.stop()
    acks = [[a.seq, a.committed_at.isoformat(), a.acked_at.isoformat()] for a in writer.acks]
    return {**fault, "drill": writer.drill, "acks": acks, "writer_end": writer.error or "stopped"}


def _inject(scenario: str, params: dict[str, Any]) -> dict[str, Any]:
    evidence = current_evidence()
    chosen = get_current_context()["ti"].xcom_pull(task_ids="check_target")
    if chosen is None:
        raise AirflowSkipException("check_target did not clear this drill: nothing injected")
    if scenario not in chosen:
        raise AirflowSkipException(f"{scenario} not selected for this drill")
    child = scenarios.DR_RUNBOOK[scenario]
    if params["dry_run"]:
        evidence.change(scenario, f"inject the fault, then run {child}", applied=False)
        raise AirflowSkipException("dry run: no fault injected, no DR runbook started")
    require_drill_target()  # again, right before the fault: the connection may have changed since
    fault = _with_writer(scenario) if scenarios.WRITES[scenario] else _inject_service_failure()
    evidence.change(scenario, fault["what"], applied=True, at=fault["fault_at"])
    if "acks" in fault:
        last = fault["acks"][-1] if fault["acks"] else None
        evidence.measure(
            "last acknowledged commit", {"seq": last and last[0], "at": last and last[1]}, "pass"
        )
        evidence.note(f"writer ended: {fault['writer_end']}")
    return fault


def _loss(fault: dict[str, Any]) -> tuple[int, float, dict[str, Any]]:
    """Acknowledged rows missing now (before the corruption time, for corruption); lost rows and seconds."""
    rows = fault.get("acks", [])
    if "corruption_time" in fault:  # only what was acknowledged before the corruption began must survive
        target = datetime.fromisoformat(fault["corruption_time"])
        rows = [row for row in rows if datetime.fromisoformat(row[2]) < target]
    acks = [(int(row[0]), datetime.fromisoformat(row[1])) for row in rows]
    if not acks:
        return 0, 0.0, {"acknowledged": 0}
    with connect_primary() as conn:
        found = survivors(conn, fault["drill"], acks[-1][0])
        # the drill's own check that the recovered primary takes writes, beside the runbook's
        conn.execute(
            "INSERT INTO drill_writes (drill, seq) VALUES (%s, 0) ON CONFLICT DO NOTHING",
            (fault["drill"] + "/after",),
        )
    loss = measure_loss(acks, found)
    return loss.lost, loss.lost_seconds, loss.to_json()


def _measure(scenario: str, params: dict[str, Any]) -> dict[str, Any]:
    evidence = current_evidence()
    ti = get_current_context()["ti"]
    fault = ti.xcom_pull(task_ids=f"{scenario}.inject")
    if fault is None:
        raise AirflowSkipException(f"{scenario}: no fault was injected")
    child = scenarios.DR_RUNBOOK[scenario]
    run_id = f"dr_drill__{get_current_context()['run_id']}"
    ended, outcome = verified_end(child, run_id)
    fault_at = datetime.fromisoformat(fault["fault_at"])
    if ended is None:
        ended = datetime.now(tz=UTC)
        evidence.note(f"{child} left no run report: RTO counted to now, an upper bound")
    rto = round((ended - fault_at).total_seconds(), 2)
    lost_rows, rpo, loss = _loss(fault) if scenarios.WRITES[scenario] else (0, 0.0, {"stateless": True})
    target = scenarios.targets(scenario)
    result = DrillResult(outcome == "success", rto, target.rto_seconds, rpo, target.rpo_seconds)
    score = readiness(result, age_days=0.0)
    for name, value, bound in (("RTO", rto, target.rto_seconds), ("RPO", rpo, target.rpo_seconds)):
        evidence.measure(f"{child} {name} seconds", value, "pass" if value <= bound else "fail", target=bound)
    evidence.measure(f"{child} acknowledged rows lost", loss, "pass" if rpo <= target.rpo_seconds else "fail")
    evidence.measure(f"{child} run outcome", outcome, "pass" if outcome == "success" else "fail")
    evidence.metric("rto_seconds", rto)
    evidence.metric("rpo_seconds", rpo)
    evidence.metric(f"{child}_readiness", score)
    names = publish_drill(PushgatewayHook(), child, result, lost_rows, score, time.time())
    evidence.change("pushgateway", f"published {', '.join(names)} for {child}", applied=True)
    if not met(result):
        raise AirflowFailException(f"{child} drill failed: outcome {outcome}, RTO {rto}s, RPO {rpo}s")
    return {"runbook": child, "rto_seconds": rto, "rpo_seconds": rpo, "lost_rows": lost_rows, "score": score}


def _answer(scenario: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer the child's approval as the drill's API user, until the child run ends."""
    evidence = current_evidence()
    if get_current_context()["ti"].xcom_pull(task_ids=f"{scenario}.inject") is None:
        raise AirflowSkipException(f"{scenario}: no fault was injected, no DR runbook to answer")
    task_id, param = APPROVALS[scenario]
    child = scenarios.DR_RUNBOOK[scenario]
    run_id = f"dr_drill__{get_current_context()['run_id']}"
    api = AirflowApi()
    answered = answer_until_done(api, child, run_id, {task_id: params[param]}, ANSWER_TIMEOUT_SECONDS)
    for entry in answered:
        if entry["option"] is None:
            evidence.note(f"{child}.{entry['task_id']} asked for an approval the drill does not answer")
        else:
            evidence.change(
                f"{child}.{entry['task_id']}", f"answered {entry['option']!r}", applied=True, by=api.user
            )
    return answered


def _require_api_account(evidence: Any) -> None:
    """Log in as the drill's API user before any fault: without it a child's approval would wait an hour."""
    try:
        api = AirflowApi()
    except Exception as exc:  # missing connection, refused login, unreachable API server
        raise AirflowFailException(
            f"the drill cannot answer approvals: connection {connections.AIRFLOW_API!r} does not log in "
            f"to Airflow's API ({type(exc).__name__}: {exc})"
        ) from None
    evidence.measure("approvals answered as", api.user, "pass")


def _child_conf(scenario: str) -> dict[str, Any]:
    conf: dict[str, Any] = {"dry_run": False, "alert": {}, "reason": f"DR drill {{{{ run_id }}}}: {scenario}"}
    if scenario == "data_corruption":
        conf.update(corruption_time=CORRUPTION_TIME, tables=list(faults.CORRUPTED_TABLES))
    return conf


with runbook_dag(JOB.name, runbook=JOB, schedule="0 4 1 * *", max_active_runs=1):

    @runbook_step(retries=1)
    def check_target(params: dict[str, Any]) -> list[str]:
        """Refuse unless this environment is a drill target; check the scenario list."""
        evidence = current_evidence()
        chosen = list(params["scenarios"])
        extra = start_exercise(chosen, get_current_context()["dag_run"], "drill")
        evidence.measure(
            "drill target", {"drill_allowed": True, "environment": extra.get("environment")}, "pass"
        )
        if any(scenario in APPROVALS for scenario in chosen) and not params["dry_run"]:
            _require_api_account(evidence)
        for scenario in chosen:
            target = scenarios.targets(scenario)
            evidence.note(
                f"{scenario}: {scenarios.DR_RUNBOOK[scenario]}, targets RTO {target.rto_seconds:.0f}s, "
                f"RPO {target.rpo_seconds:.0f}s"
            )
        return chosen

    previous: Any = check_target()
    for name in scenarios.SCENARIOS:
        with TaskGroup(group_id=name):
            # one retry: what can fail transiently happens before the fault (writer start, its first
            # rows); a retry is a fresh attempt with its own rows (the drill key holds the try number)
            @runbook_step(task_id="inject", retries=1, trigger_rule=TriggerRule.NONE_FAILED)
            def inject(params: dict[str, Any], scenario: str = name) -> dict[str, Any]:
                """Start the writer, inject the scenario's fault, record its moment and the last commit."""
                return _inject(scenario, params)

            recover = TriggerDagRunOperator(
                task_id="recover",
                trigger_dag_id=scenarios.DR_RUNBOOK[name],
                trigger_run_id=CHILD_RUN_ID,
                conf=_child_conf(name),
                wait_for_completion=True,
                poke_interval=2,
                allowed_states=["success"],
                failed_states=["failed"],
                fail_when_dag_is_paused=True,
                # a retry never starts a second recovery: the child run exists, so it is skipped and
                # `measure` judges the child run from its report
                skip_when_already_exists=True,
                retries=1,
            )

            @runbook_step(task_id="measure", retries=1, trigger_rule=TriggerRule.ALL_DONE)
            def measure(params: dict[str, Any], scenario: str = name) -> dict[str, Any]:
                """Measure RTO and RPO against the targets, score readiness, publish; fail a missed drill."""
                return _measure(scenario, params)

            injected = inject()
            previous >> injected >> recover >> (measured := measure())
            if name in APPROVALS:

                @runbook_step(task_id="answer", retries=1)
                def answer(params: dict[str, Any], scenario: str = name) -> list[dict[str, Any]]:
                    """Answer the DR runbook's approval through the HITL API, as the drill's user."""
                    return _answer(scenario, params)

                injected >> answer() >> measured
            previous = measured
