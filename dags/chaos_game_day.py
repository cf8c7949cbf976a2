"""Quarterly chaos game day: faults injected, the alert and incident runbook checked, the outcome scored.

::

    check_target >> latency.[inject >> observe >> clear]
                 >> db_pool_exhausted.[inject >> observe >> clear]
                 >> replica_stopped.[inject >> observe >> clear]
                 >> pods_killed.[inject >> observe >> clear] >> score

Each selected scenario (param ``scenarios``; the table is ``novacron_runbooks.gameday.scenarios``) runs in
turn:

- ``inject``: refuses unless the environment is at rest for the fault (the expected alert not active, the
  switch off, the replica streaming, the live colour fully ready), then strikes and records the moment.
  ``latency``: 800 ms on every API answer. ``db_pool_exhausted``: 95% of the API's database pool held.
  ``replica_stopped``: the streaming replica shut down. ``pods_killed``: the live colour's pods killed, their
  replacements crashing.
- ``observe``: (1) the expected alert fires within the live rule's own ``for`` (read from Prometheus, so a
  sped-up rule is honoured) plus a margin; (2) the Alertmanager bridge starts the matching incident runbook (a
  run whose ``conf.alert`` names the alert, queued after the fault, read through Airflow's REST API as the
  user of the connection ``novacron_airflow_api``); (3) that run succeeds and the alert resolves within the
  runbook's response time (catalog).
- ``clear``: whatever ``observe`` found, the fault is undone (only what the game day changed) and read back.
  A fault that could not be injected (the environment not at rest) or cleared stops the game day there: the
  next fault would land on an environment in an unknown state; ``score`` reports the rest as not injected.
- ``score``: every scenario scored (detected, runbook started, resolved, times against targets), published
  to the Pushgateway (``novacron_gameday_*``) and the report. A scenario not resolved fails the run: a gap the
  game day found must be seen, not averaged away. Some gaps are known (``high_latency`` has no automatic
  remedy for latency that neither the database nor CPU explains: it hands over to people).

A scheduled run that starts more than an hour after its date (the catch-up run Airflow starts at once when
the DAG is unpaused) skips the game day: the first scheduled one is the next quarter's 1st, 05:00 UTC.

Safety: ``check_target`` and each ``inject`` refuse unless the connection ``novacron_drill`` carries
``drill_allowed: true`` (the sandbox writes it; production has no such connection). The incident runbooks
must be unpaused for the bridge to start them. A dry run checks the target and lists each fault, alert and
runbook it would exercise, and changes nothing.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks import connections
from novacron_runbooks.catalog import scheduled_job
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.drill.approvals import AirflowApi
from novacron_runbooks.drill.target import require_drill_target, start_exercise
from novacron_runbooks.gameday import faults, observe, scenarios, scoring
from novacron_runbooks.gameday.metrics import publish
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.hooks.pushgateway import PushgatewayHook

JOB = scheduled_job("chaos_game_day")
OBSERVE_TIMEOUT = timedelta(minutes=45)
"""Longer than any scenario's alert wait, bridge margin and runbook response time together."""


def _airflow_api() -> AirflowApi:
    """Log in as the game day's API user; without it no incident run could be found, so fail first."""
    try:
        return AirflowApi()
    except Exception as exc:  # missing connection, refused login, unreachable API server
        raise AirflowFailException(
            f"the game day cannot read incident runs: connection {connections.AIRFLOW_API!r} does not log "
            f"in to Airflow's API ({type(exc).__name__}: {exc})"
        ) from None


def _chosen(scenario: str) -> None:
    chosen = get_current_context()["ti"].xcom_pull(task_ids="check_target")
    if chosen is None:
        raise AirflowSkipException("check_target did not clear this game day: nothing injected")
    if scenario not in chosen:
        raise AirflowSkipException(f"{scenario} not selected for this game day")


def _inject(name: str, params: dict[str, Any]) -> dict[str, Any]:
    evidence = current_evidence()
    _chosen(name)
    scenario = scenarios.BY_NAME[name]
    if params["dry_run"]:
        evidence.change(
            name, f"{scenario.fault}; expect {scenario.alert} → {scenario.runbook}", applied=False
        )
        raise AirflowSkipException("dry run: no fault injected")
    require_drill_target()  # again, right before the fault: the connection may have changed since
    active = observe.alert_states(PrometheusHook(), scenario.alert)
    if active:
        states = sorted({str(a.get("state")) for a in active})
        raise AirflowFailException(
            f"{scenario.alert} is {'/'.join(states)} already: not at rest, not injected"
        )
    plan = faults.prepare(name)
    try:
        fault = faults.strike(name, plan)
    except Exception as exc:
        evidence.note(f"strike failed ({type(exc).__name__}: {exc}); undoing what it may have changed")
        evidence.note(faults.clear(name, plan))
        raise AirflowFailException(f"{name}: the fault could not be injected: {exc}") from exc
    evidence.change(name, fault["what"], applied=True, at=fault["fault_at"])
    return {**plan, **fault}


def _observe(name: str) -> dict[str, Any]:
    evidence = current_evidence()
    fault = get_current_context()["ti"].xcom_pull(task_ids=f"{name}.inject")
    if fault is None:
        raise AirflowSkipException(f"{name}: no fault was injected")
    scenario = scenarios.BY_NAME[name]
    target = scenarios.response_seconds(scenario)
    seen = observe.observe(scenario, fault["fault_at"], target, PrometheusHook(), _airflow_api())
    verdict = scoring.score(seen)
    evidence.measure(f"{scenario.alert} fired", seen.fired_at, "pass" if verdict.detected else "fail")
    evidence.measure(f"{scenario.runbook} run", seen.run_id, "pass" if verdict.runbook_started else "fail")
    evidence.measure(f"{scenario.runbook} run state", seen.run_state, "pass" if verdict.resolved else "fail")
    evidence.note(f"gap: {verdict.gap}" if verdict.gap else "detected and resolved in time")
    return seen.to_json()


def _clear(name: str) -> str:
    evidence = current_evidence()
    fault = get_current_context()["ti"].xcom_pull(task_ids=f"{name}.inject")
    if fault is None:
        raise AirflowSkipException(f"{name}: nothing injected, nothing to clear")
    done = faults.clear(name, fault)
    evidence.change(name, f"cleared: {done}", applied=True)
    return done


def _missing(name: str, why: str) -> scoring.Score:
    """Score a scenario that was not observed (its inject, observe or clear failed)."""
    scenario = scenarios.BY_NAME[name]
    return scoring.Score(
        name, scenario.alert, scenario.runbook, False, None, 0.0, False, None, False, None, 0.0, why
    )


def _score_one(name: str, ti: Any) -> scoring.Score:
    if ti.xcom_pull(task_ids=f"{name}.inject") is None:
        return _missing(name, "the fault was not injected (see the inject step)")
    seen = ti.xcom_pull(task_ids=f"{name}.observe")
    if seen is None:
        return _missing(name, "the fault was injected but not observed (see the observe step)")
    verdict = scoring.score(scoring.Observation.from_json(seen))
    if ti.xcom_pull(task_ids=f"{name}.clear") is None:
        return dataclasses.replace(verdict, gap=f"the fault was not cleared (gap before: {verdict.gap})")
    return verdict


def _score(params: dict[str, Any]) -> dict[str, Any]:
    evidence = current_evidence()
    ti = get_current_context()["ti"]
    chosen = ti.xcom_pull(task_ids="check_target")
    if chosen is None or params["dry_run"]:
        raise AirflowSkipException("nothing was injected: nothing to score")
    scores = [_score_one(name, ti) for name in chosen]
    pushgateway, now = PushgatewayHook(), time.time()
    for found in scores:
        verdict = "pass" if found.passed else "fail"
        evidence.measure(f"{found.scenario}: {found.alert} → {found.runbook}", found.to_json(), verdict)
        names = publish(pushgateway, found, now)
        evidence.change("pushgateway", f"published {len(names)} figures for {found.scenario}", applied=True)
    result = scoring.summary(scores)
    if result["gaps"]:
        gaps = "; ".join(f"{name}: {gap}" for name, gap in result["gaps"].items())
        raise AirflowFailException(f"the game day found {len(result['gaps'])} gap(s): {gaps}")
    return result


with runbook_dag(JOB.name, runbook=JOB, schedule="0 5 1 1,4,7,10 *", max_active_runs=1):

    @runbook_step(retries=1)
    def check_target(params: dict[str, Any]) -> list[str]:
        """Refuse unless this environment is a drill target; check the scenario list and the API login."""
        evidence = current_evidence()
        chosen = list(params["scenarios"])
        extra = start_exercise(chosen, get_current_context()["dag_run"], "game day")
        scenarios.check_table()
        evidence.measure(
            "drill target", {"drill_allowed": True, "environment": extra.get("environment")}, "pass"
        )
        if not params["dry_run"]:
            evidence.measure("incident runs read as", _airflow_api().user, "pass")
        for name in chosen:
            scenario = scenarios.BY_NAME[name]
            target = scenarios.response_seconds(scenario)
            evidence.note(f"{name}: {scenario.alert} → {scenario.runbook}, resolved within {target:.0f}s")
        return chosen

    previous: Any = check_target()
    for scenario_name in (scenario.name for scenario in scenarios.SCENARIOS):
        with TaskGroup(group_id=scenario_name):
            # one retry, for what fails before the strike (reading the environment); a strike that fails
            # is undone at once and fails without a retry
            @runbook_step(task_id="inject", retries=1, trigger_rule=TriggerRule.NONE_FAILED)
            def inject(params: dict[str, Any], name: str = scenario_name) -> dict[str, Any]:
                """Check the environment is at rest, inject the scenario's fault and record its moment."""
                return _inject(name, params)

            # a retry re-reads from the recorded fault moment: observing changes nothing
            @runbook_step(task_id="observe", retries=1, execution_timeout=OBSERVE_TIMEOUT)
            def observe_fault(name: str = scenario_name) -> dict[str, Any]:
                """Follow the fault: alert fired, incident runbook started by the bridge, run resolved."""
                return _observe(name)

            # runs whenever the fault was injected (inject succeeded), whatever observe did; skipped with
            # an unselected scenario's inject, so a game day of one scenario does not run three no-op clears
            @runbook_step(task_id="clear", retries=2, trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
            def clear(name: str = scenario_name) -> str:
                """Undo the fault whatever was observed (idempotent), and read the result back."""
                return _clear(name)

            injected = inject()
            cleared = clear()
            previous >> injected >> observe_fault() >> cleared
            injected >> cleared
            previous = cleared

    @runbook_step(retries=1, trigger_rule=TriggerRule.ALL_DONE)
    def score(params: dict[str, Any]) -> dict[str, Any]:
        """Score every scenario, publish the figures; fail the run when a scenario was not resolved."""
        return _score(params)

    previous >> score()
