"""Database issues: slow queries, lock contention, idle transactions, pool saturation, stale statistics.

::

    diagnose >> cancel_long_queries >> need_approval >> approve_terminations
        ─┬─> terminate_idle_transactions ─┐
         └─> leave_idle_transactions ─────┴─> analyze_stale_tables
        >> gate_query_latency >> gate_connection_pool

- ``diagnose``: one snapshot of ``pg_stat_activity`` (long statements, sessions idle in transaction, lock
  waits and the blocking tree), the top ``pg_stat_statements`` entries, replication lag, connection counts,
  tables with stale statistics, and the alert's own measures from Prometheus (query p95, pool usage).
  Nothing wrong in any of them ends the run as a false alarm (or an alert already resolved), reported so.
- ``cancel_long_queries``: ``pg_cancel_backend`` of active statements over the long-query threshold, lock
  blockers first; each signal names the session by pid and start times, so a reused pid is never hit.
- ``approve_terminations``: a person decides on terminating the sessions idle in transaction over the
  threshold (the dropped connections are the application's); no answer in 10 minutes leaves them. Skipped
  when there are none.
- ``analyze_stale_tables``: ``ANALYZE`` where more than the catalog's share of rows changed since the last.
- the gates: query p95 under 1 s and the connection pool under 90 %, measured after the remediation.

A dry run diagnoses and shows what would be cancelled, terminated and analyzed, and evaluates the gates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dbsessions import activity, remedy
from novacron_runbooks.dbsessions.health import pool_gate, query_latency_gate, read_alert_measures
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.release.gates import API_JOB, SCRAPES_PER_WINDOW
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

RUNBOOK = catalog_runbook("database_issues")
TERMINATE, LEAVE = "Terminate", "Leave them"
PLAN = "{{ ti.xcom_pull(task_ids='diagnose')['%s'] }}"


def thresholds(params: dict[str, Any]) -> remedy.Thresholds:
    """Return the catalog thresholds, each replaced by its param when the run gives one."""
    return remedy.Thresholds(
        long_query_seconds=float(params["long_query_seconds"] or RUNBOOK.threshold("long_query").value),
        idle_in_transaction_seconds=float(
            params["idle_in_transaction_seconds"] or RUNBOOK.threshold("idle_in_transaction").value
        ),
        stale_ratio=float(RUNBOOK.threshold("stale_statistics").value),
    )


def signal_sessions(diagnosed: list[dict[str, Any]], kind: remedy.Signal, dry_run: bool) -> list[int]:
    """Send ``kind`` to each diagnosed session still the same; record each as a change (a plan when dry)."""
    evidence = current_evidence()
    delivered = []
    with connect_primary() as conn:
        for raw in diagnosed:
            session = remedy.session_from(raw)
            age = session.query_seconds if kind == "cancel" else session.state_seconds
            what = f"{kind} pid {session.pid} ({session.user}, {session.state} {age:.0f} s)"
            what += f": {session.query[:80]!r}"
            if dry_run:
                evidence.change("postgres session", what, applied=False)
            elif remedy.signal(conn, session, kind):
                evidence.change("postgres session", what, applied=True)
                delivered.append(session.pid)
            else:
                evidence.change("postgres session", f"{what}: already gone", applied=False)
    return delivered


with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def diagnose(params: dict[str, Any]) -> dict[str, Any]:
        """Read the sessions, the blocking tree, statements, lag and statistics; end on a false alarm."""
        evidence = current_evidence()
        limits = thresholds(params)
        prometheus = PrometheusHook()
        measures = read_alert_measures(prometheus, RUNBOOK)
        for name, (value, over) in measures.items():
            evidence.measure(name, value, "fail" if over else ("pass" if value is not None else "unknown"))
        with connect_primary() as conn:
            sessions = activity.read_sessions(conn)
            stale = remedy.stale_tables(conn, limits.stale_ratio)
            top = remedy.top_statements(conn)
            lag = remedy.replication_lag(conn)
        cancel = remedy.to_cancel(sessions, limits)
        terminate = remedy.to_terminate(sessions, limits)
        tree = activity.render_tree(sessions)
        waiting = [s for s in sessions if s.waiting_on_lock]
        evidence.measure(
            "sessions",
            {"total": len(sessions), "by_state": remedy.count_by_state(sessions), "lock_waits": len(waiting)},
            "fail" if waiting else "pass",
        )
        evidence.measure("replication", lag, "pass")
        if tree:
            evidence.note("blocking tree:\n" + "\n".join(tree))
        if top:
            evidence.note("slowest statements (pg_stat_statements, mean ms): " + "; ".join(top))
        if stale:
            evidence.note(
                "stale statistics: " + ", ".join(f"{t['table']} ({t['modified']} changed)" for t in stale)
            )
        symptoms = [name for name, (_, over) in measures.items() if over]
        symptoms += [f"{len(cancel)} statement(s) over {limits.long_query_seconds:g} s"] if cancel else []
        symptoms += [f"{len(terminate)} idle transaction(s)"] if terminate else []
        symptoms += [f"{len(waiting)} lock wait(s)"] if waiting else []
        if not symptoms:
            # stale statistics alone are no incident: autovacuum or a maintenance run analyzes them
            evidence.verdict = "false alarm"
            raise AirflowSkipException(
                "nothing wrong found: no long statements, idle transactions or lock waits, and query p95 and "
                "pool usage within their thresholds (a false alarm or an alert already resolved)"
            )
        evidence.note("found: " + "; ".join(symptoms))
        window = SCRAPES_PER_WINDOW * prometheus.scrape_interval_seconds(API_JOB)
        return {
            "cancel": [s.summary() for s in cancel],
            "terminate": [s.summary() for s in terminate],
            "stale": stale,
            "window": f"{int(window)}s",
            # judge only samples taken after the remediation: the window must have passed it
            "gate_delay_seconds": window + prometheus.scrape_interval_seconds(API_JOB),
        }

    @runbook_step
    def cancel_long_queries(found: dict[str, Any], params: dict[str, Any]) -> list[int]:
        """Cancel the long statements (blockers first); one already gone is not signalled."""
        if not found["cancel"]:
            current_evidence().note("no statement over the long-query threshold")
        return signal_sessions(found["cancel"], "cancel", bool(params["dry_run"]))

    @runbook_step
    def need_approval(found: dict[str, Any]) -> int:
        """Ask a person only when there are idle transactions over the threshold."""
        if not found["terminate"]:
            raise AirflowSkipException("no session idle in transaction over the threshold")
        return len(found["terminate"])

    approve = RecordedHITLBranchOperator(
        task_id="approve_terminations",
        subject="Terminate sessions idle in transaction?",
        body=(
            "These sessions have been idle inside a transaction longer than the threshold; they hold their "
            "locks until they end. Terminating drops their connections (the application reconnects).\n\n"
            "{% for s in ti.xcom_pull(task_ids='diagnose')['terminate'] %}"
            "- pid {{ s.pid }} {{ s.user }} from {{ s.client }}: idle {{ s.state_seconds }} s, "
            "last statement `{{ s.query[:120] }}`\n{% endfor %}"
        ),
        options=[TERMINATE, LEAVE],
        defaults=[LEAVE],
        options_mapping={TERMINATE: "terminate_idle_transactions", LEAVE: "leave_idle_transactions"},
        response_timeout=timedelta(minutes=10),
    )

    @runbook_step
    def terminate_idle_transactions(found: dict[str, Any], params: dict[str, Any]) -> list[int]:
        """Terminate the approved idle transactions (each re-identified by its start times)."""
        return signal_sessions(found["terminate"], "terminate", bool(params["dry_run"]))

    leave_idle_transactions = EmptyOperator(task_id="leave_idle_transactions")

    @runbook_step(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def analyze_stale_tables(found: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """ANALYZE the tables whose statistics are stale, so the planner sees today's row counts."""
        evidence = current_evidence()
        done = []
        with connect_primary() as conn:
            for table in found["stale"]:
                if params["dry_run"]:
                    evidence.change(table["table"], "ANALYZE", applied=False)
                    continue
                remedy.analyze(conn, table["schema"], table["name"])
                evidence.change(table["table"], f"ANALYZE ({table['modified']} rows changed)", applied=True)
                done.append(table["table"])
        return done

    found = diagnose()
    cancelled = cancel_long_queries(found)
    asked = need_approval(found)
    terminated = terminate_idle_transactions(found)
    cancelled >> asked >> approve >> [terminated, leave_idle_transactions]
    analyzed = analyze_stale_tables(found)
    [cancelled, terminated, leave_idle_transactions] >> analyzed
    values = {"window": PLAN % "window"}
    overrides = {"initial_delay_seconds": PLAN % "gate_delay_seconds"}
    channel = RUNBOOK.owner.slack_channel
    latency = PrometheusGateSensor(
        task_id="gate_query_latency",
        gate=query_latency_gate(RUNBOOK),
        values=values,
        overrides=overrides,
        notify_channel=channel,
        retries=0,
    )
    pool = PrometheusGateSensor(
        task_id="gate_connection_pool", gate=pool_gate(RUNBOOK), notify_channel=channel, retries=0
    )
    analyzed >> latency >> pool
