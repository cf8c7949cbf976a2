"""The database-issues runbook on real sessions: a lock blocker cancelled, an idle transaction ended."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import psycopg
import pytest
from dag_runner import respond_when_asked, run_dag, task_states
from release_state import load_dag

from novacron_runbooks.dagkit.report.store import read_report


def app_connection() -> psycopg.Connection[Any]:
    """A session of the application role over TCP, as the API's own connections are."""
    conn = json.loads(os.environ["AIRFLOW_CONN_NOVACRON_DB"])
    return psycopg.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["login"],
        password=conn["password"],
        dbname=conn["schema"],
        application_name="test-session",
    )


def in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:  # noqa: BLE001 - the test asserts on what happened
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


HOLDING_THE_LOCK = (
    "SELECT 1 FROM pg_locks WHERE pid = %s AND granted AND mode = 'AccessExclusiveLock'"
    " AND relation = 'audit_log'::regclass"
)
WAITING_OVER_2S = (
    "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'"
    " AND now() - query_start > interval '2 seconds'"
)
IDLE_OVER_2S = (
    "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'idle in transaction'"
    " AND now() - state_change > interval '2 seconds'"
)


def observed(observer: psycopg.Connection[Any], query: str, pid: int) -> bool:
    return observer.execute(query, (pid,)).fetchone() is not None


def until(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.sandbox
def test_lock_blocker_is_cancelled_and_the_idle_transaction_ended_after_approval(sandbox):
    blocker, waiter, idle = app_connection(), app_connection(), app_connection()
    blocker_pid = blocker.info.backend_pid

    def hold_the_lock() -> None:
        with blocker.transaction():
            blocker.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
            blocker.execute("SELECT pg_sleep(120)")

    def wait_for_the_lock() -> int:
        row = waiter.execute("SELECT count(*) FROM audit_log").fetchone()
        waiter.commit()
        return int(row[0]) if row else -1

    held, held_outcome = in_thread(hold_the_lock)
    observer = app_connection()
    observer.autocommit = True
    until(lambda: observed(observer, HOLDING_THE_LOCK, blocker_pid), "the blocker to hold the lock")
    waiting, waiting_outcome = in_thread(wait_for_the_lock)
    idle.execute("SELECT 1")  # psycopg opened a transaction: the session now sits idle in transaction
    # both sessions older than the 2 s thresholds below, read from the server's own clock
    until(lambda: observed(observer, WAITING_OVER_2S, waiter.info.backend_pid), "the waiter to wait over 2 s")
    until(lambda: observed(observer, IDLE_OVER_2S, idle.info.backend_pid), "the idle transaction to age 2 s")
    observer.close()
    try:
        answered = respond_when_asked("database_issues", "approve_terminations", "Terminate")
        run = run_dag(
            load_dag("database_issues"),
            {"dry_run": False, "long_query_seconds": 2, "idle_in_transaction_seconds": 2},
        )
        held.join(30)
        waiting.join(30)
        states = task_states(run)
        assert run.state == "success", states
        assert isinstance(held_outcome.get("error"), psycopg.errors.QueryCanceled), held_outcome
        assert waiting_outcome.get("result", -1) >= 0, waiting_outcome  # the waiter got its rows
        assert answered.get("run_id") == run.run_id, answered
        assert states["terminate_idle_transactions"] == "success"
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")  # terminated by the runbook
        report = read_report("database_issues", run.run_id, "markdown")
        assert f"pid {blocker_pid}" in report  # the blocking tree and the cancellation name the blocker
        assert "blocking tree" in report
    finally:
        for conn in (blocker, waiter, idle):
            conn.close()


@pytest.mark.sandbox
def test_nothing_wrong_ends_as_a_false_alarm_and_changes_nothing(sandbox):
    run = run_dag(load_dag("database_issues"), {"dry_run": False, "long_query_seconds": 3600})
    states = task_states(run)
    assert states["diagnose"] == "skipped", states
    assert states["cancel_long_queries"] == "skipped"
    assert states["gate_query_latency"] == "skipped"
    assert "false alarm" in read_report("database_issues", run.run_id, "markdown")
