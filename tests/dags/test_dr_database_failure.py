"""Database failover against a real sandbox: the primary SIGKILLed mid-write, the replica promoted.

The destructive test runs in a throw-away sandbox (``isolated_sandbox``); the refusal test runs against the
session's sandbox, which it must leave exactly as it found it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
from backup_helpers import eventually, load_dag, promql
from dag_runner import run_dag, task_states

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.database import application
from novacron_runbooks.database.nodes import DatabaseNodes, Node
from novacron_runbooks.hooks.kubernetes import cluster_hook
from novacron_runbooks.hooks.node import HostUnreachable, forget_sessions
from novacron_runbooks.release.cluster import ReleaseCluster
from sandbox import components

pytestmark = pytest.mark.sandbox
DAG_ID = "dr_database_failure"
RECOVERY_STEPS = ("fence_lost_primary", "recover", "repoint_application", "verify", "rebuild_replica")


@pytest.fixture
def lost_db(isolated_sandbox):
    """The isolated sandbox, with the per-process Kubernetes hook (it caches the cluster's port) dropped."""
    cluster_hook.cache_clear()
    yield isolated_sandbox
    cluster_hook.cache_clear()


def _app_dsn(port: int) -> dict[str, Any]:
    conn = json.loads(os.environ["AIRFLOW_CONN_NOVACRON_DB"])
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": conn["login"],
        "password": conn["password"],
        "dbname": conn["schema"],
        "connect_timeout": 3,
    }


class Writer(threading.Thread):
    """Commit rows 1, 2, 3, ... one transaction each; ``acked`` is the last one the primary confirmed."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.acked = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(**_app_dsn(self.port), autocommit=True) as conn:
                while True:
                    conn.execute("INSERT INTO dr_probe (seq) VALUES (%s)", (self.acked + 1,))
                    self.acked += 1
        except psycopg.Error as exc:
            self.error = str(exc)


def failover(conf: dict[str, Any]) -> Any:
    dag = load_dag(DAG_ID)
    # dag.test() on 3.3.2 cannot evaluate the deadline alerts of a DAG it serialises itself; escalation
    # timers run under a live scheduler in test_escalation_e2e
    dag.deadline = None
    return run_dag(dag, conf)


def _kill_mid_write(layout: Any, nodes: DatabaseNodes, stop_first: Node | None = None) -> Writer:
    """SIGKILL pg-a's postmaster while rows are committed (once Prometheus has seen it up)."""
    old = nodes.node("pg-a")
    eventually(lambda: promql(layout, 'pg_up{job="postgres"} == 1'), 30, "Prometheus sees the primary up")
    with psycopg.connect(**_app_dsn(old.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE dr_probe (seq integer PRIMARY KEY)")
    if stop_first is not None:
        nodes.stop(stop_first)
    writer = Writer(old.port)
    writer.start()
    while writer.acked < 200 and writer.is_alive():
        time.sleep(0.05)
    os.kill(int((Path(old.data_dir) / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
    writer.join(timeout=10)
    assert writer.error, "the writer must have seen the primary die"
    return writer


def _missing(port: int, acked: int) -> set[int]:
    with psycopg.connect(**_app_dsn(port)) as conn:
        rows = {row[0] for row in conn.execute("SELECT seq FROM dr_probe")}
    return set(range(1, acked + 1)) - rows


def _snapshot(nodes: DatabaseNodes) -> dict[str, Any]:
    return {
        "roles": nodes.roles(),
        "fenced": [n.name for n in nodes.nodes if nodes.fenced(n)],
        "app": application.configured_address(ReleaseCluster()),
    }


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def _report(run: Any) -> dict[str, Any]:
    return dict(json.loads(read_report(DAG_ID, run.run_id, "json")))


def test_killed_primary_fails_over_without_losing_a_committed_row(lost_db):
    nodes = DatabaseNodes.from_connection()
    old, new = nodes.node("pg-a"), nodes.node("pg-b")
    writer = _kill_mid_write(lost_db, nodes)

    before = _snapshot(nodes)
    dry = failover({"reason": "failover test, dry run"})
    assert dry.state == "success", task_states(dry)
    assert _snapshot(nodes) == before, "a dry run changed the topology"
    planned = {s["task_id"]: s["evidence"] for s in _report(dry)["steps"]}
    assert any(c["action"] == "promote pg-b" for c in planned["recover"]["changes"]), planned["recover"]

    run = failover({"dry_run": False, "reason": "failover test"})
    assert run.state == "success", task_states(run)
    assert nodes.roles() == {"pg-a": "replica", "pg-b": "primary"}
    assert nodes.streaming(old), "the old primary's node streams again as a replica"
    assert application.configured_address(ReleaseCluster()) == ("127.0.0.1", new.port)
    missing = _missing(new.port, writer.acked)
    assert not missing, f"{len(missing)} committed rows lost, first {sorted(missing)[:5]}"
    status, body = _get(f"{lost_db.url('standin')}/api/v1/vms")
    assert status == 200 and body["count"] > 0
    targets = {t["name"]: t for t in _report(run)["targets"]}
    for name in ("rto_seconds", "rpo_seconds"):
        assert targets[name]["measured_seconds"] <= targets[name]["target_seconds"], targets
    rto, rpo = targets["rto_seconds"]["measured_seconds"], targets["rpo_seconds"]["measured_seconds"]
    print(f"failover: {writer.acked} rows committed, rto {rto:.1f} s, rpo estimate {rpo:.1f} s")


def test_without_a_replica_the_newest_backup_and_wal_are_restored(lost_db):
    nodes = DatabaseNodes.from_connection()
    old, replica = nodes.node("pg-a"), nodes.node("pg-b")
    writer = _kill_mid_write(lost_db, nodes, stop_first=replica)

    run = failover({"dry_run": False, "reason": "primary and replica lost"})
    assert run.state == "success", task_states(run)
    steps = {s["task_id"]: s["evidence"] for s in _report(run)["steps"]}
    assert "restore: no healthy replica to promote" in steps["recover"]["notes"]
    assert nodes.roles() == {"pg-a": "primary", "pg-b": "replica"}
    assert nodes.streaming(replica)
    # the backup, the archive, then the lost primary's own unarchived WAL: every acknowledged commit
    assert _missing(old.port, writer.acked) == set()


def test_a_live_primary_is_never_failed_over(sandbox):
    """Also what a second run after a recovery meets: a healthy primary in use ends the run unchanged."""
    cluster_hook.cache_clear()
    nodes = DatabaseNodes.from_connection()
    before = _snapshot(nodes)
    run = failover({"dry_run": False, "reason": "primary is fine"})
    states = task_states(run)
    assert states["confirm_loss"] == "skipped", states
    assert all(states[step] == "skipped" for step in RECOVERY_STEPS), states
    assert _snapshot(nodes) == before
    refusal = {s["task_id"]: s["evidence"] for s in _report(run)["steps"]}["confirm_loss"]["error"]
    assert "refusing to fail over" in refusal


def test_a_lost_primary_whose_host_cannot_be_reached_is_not_failed_over(lost_db):
    """Unreachable is not proven lost: with pg-a's sshd down too, nothing is fenced, promoted or repointed."""
    nodes = DatabaseNodes.from_connection()
    _kill_mid_write(lost_db, nodes)
    assert components.stop(lost_db, "sshd_pg_a")
    forget_sessions()  # a new task process: no session opened before the sshd went away
    try:
        before = {"roles": nodes.roles(), "app": application.configured_address(ReleaseCluster())}
        run = failover({"dry_run": False, "reason": "primary lost, its host unreachable"})
        states = task_states(run)
        assert states["confirm_loss"] == "failed", states
        assert all(states[step] in ("upstream_failed", "skipped") for step in RECOVERY_STEPS), states
        refusal = {s["task_id"]: s["evidence"] for s in _report(run)["steps"]}["confirm_loss"]["error"]
        assert "cannot prove the primary pg-a is lost" in refusal
        assert "its host cannot say its postmaster stopped" in refusal and "pg-a" in refusal
        after = {"roles": nodes.roles(), "app": application.configured_address(ReleaseCluster())}
        assert after == before
    finally:
        components.start(lost_db, "sshd_pg_a", components.StartOptions())
        forget_sessions()
    assert not nodes.fenced(nodes.node("pg-a")), "a node whose host could not be asked was fenced"


def test_a_fence_cut_off_by_its_host_leaves_nothing_half_done_and_a_retry_completes(lost_db):
    """sshd gone while a step runs: the error names the host, no marker on a live node; a retry fences it."""
    nodes = DatabaseNodes.from_connection()
    old = nodes.node("pg-a")
    assert components.stop(lost_db, "sshd_pg_a")
    forget_sessions()
    try:
        with pytest.raises(HostUnreachable, match="pg-a"):
            nodes.fence(old)
    finally:
        components.start(lost_db, "sshd_pg_a", components.StartOptions())
        forget_sessions()
    assert nodes.role(old) == "primary", "the step that could not reach the host stopped nothing"
    assert not nodes.fenced(old)
    done = nodes.fence(old)
    assert done[0] == "stopped pg-a" and any("fence marker" in action for action in done), done
    assert nodes.fenced(old) and not nodes.running(old)
    assert nodes.fence(old) == [], "fencing again is a no-op"
