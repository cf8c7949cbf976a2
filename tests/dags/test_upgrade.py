"""The upgrade runbook on the sandbox: refusals before anything changes, and a database upgrade end to end."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from backup_helpers import backups, load_dag
from dag_runner import respond_when_asked, run_dag, task_states
from recovery_helpers import scratch

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
from novacron_runbooks.hooks.lease import LeaseLock
from novacron_runbooks.upgrade import extension

pytestmark = pytest.mark.sandbox

CHANGING = ("rollback_point", "rehearse", "approve", "upgrade_database", "run_canary")


def superuser(node_name: str | None = None):
    nodes = DatabaseNodes.from_connection()
    node = nodes.node(node_name) if node_name else nodes.primary()
    assert node is not None
    return nodes.programs.connect(node, "novacron")


def installed(name: str, node_name: str | None = None) -> str | None:
    with superuser(node_name) as conn:
        return extension.state(conn, name).installed


def test_an_unsupported_combination_is_refused_by_validate_params(sandbox):
    labels = [b["label"] for b in backups()]
    conf = {"component": "kubernetes", "target_version": "1.31.4", "dry_run": False}
    run = run_dag(load_dag("upgrade"), conf)
    states = task_states(run)
    assert run.state == "failed"
    assert states["validate_params"] == "failed"
    assert {states[t] for t in ("preflight_checks", *CHANGING)} == {"upstream_failed"}
    text = read_report("upgrade", run.run_id, "markdown")
    assert "param 'component'" in text and "kubernetes upgrades are not supported" in text
    assert [b["label"] for b in backups()] == labels


def test_preflight_refuses_while_a_deployment_holds_the_deploy_lock(sandbox):
    lock = LeaseLock(coordination_api(), namespace())
    holder = "deployment/ci-upgrade-test"
    assert lock.try_acquire("novacron-api", holder, timedelta(minutes=30)).holder == holder
    try:
        conf = {
            "component": "database",
            "extension": "pg_stat_statements",
            "target_version": "1.10",
            "dry_run": False,
        }
        run = run_dag(load_dag("upgrade"), conf)
    finally:
        lock.release("novacron-api", holder)
    states = task_states(run)
    assert run.state == "failed"
    assert states["preflight_checks"] == "failed"
    assert {states[t] for t in CHANGING} == {"upstream_failed"}
    assert states["roll_back"] == "skipped"  # the upgrade never started
    text = read_report("upgrade", run.run_id, "markdown")
    assert f"lock 'novacron-api' is held by {holder}" in text


def test_database_extension_upgrade_rehearsed_on_scratch_approved_and_verified(isolated_sandbox):
    with superuser() as conn:
        conn.execute("CREATE EXTENSION pg_trgm VERSION '1.5'")
    base = {"component": "database", "extension": "pg_trgm", "target_version": "1.6", "reason": "test"}
    labels = [b["label"] for b in backups()]

    dry = run_dag(load_dag("upgrade"), base)  # dry run by default: preflight and plan only
    states = task_states(dry)
    assert dry.state == "success", states
    assert states["preflight_checks"] == "skipped"
    assert {states[t] for t in CHANGING} == {"skipped"}
    assert installed("pg_trgm") == "1.5"
    assert [b["label"] for b in backups()] == labels

    answered = respond_when_asked("upgrade", "approve", "Upgrade", user="dba-oncall")
    run = run_dag(load_dag("upgrade"), {**base, "dry_run": False})
    states = task_states(run)
    assert run.state == "success", (states, answered)
    assert states["run_canary"] == "skipped" and states["roll_back"] == "skipped"
    # roll_back tells "never started" from "failed" by this branch's answer
    chosen = run.get_task_instance("choose_path").xcom_pull(task_ids="choose_path", key="upgrade_path")
    assert chosen == "upgrade_database"
    assert installed("pg_trgm") == "1.6"
    assert not Path(scratch().data_dir).exists()
    taken = [b for b in backups() if b["label"] not in labels]
    assert len(taken) == 1 and taken[0]["annotation"]["runbook-run"] == f"upgrade/{run.run_id}"

    report = json.loads(read_report("upgrade", run.run_id, "json"))
    steps = {s["task_id"]: s for s in report["steps"]}
    rehearsal = steps["rehearse"]["evidence"]
    print(f"upgrade rehearsal: {rehearsal['metrics']['rehearsal_seconds']} s")
    assert rehearsal["metrics"]["rehearsal_seconds"] > 0
    assert any(
        c["target"] == "scratch instance" and "UPDATE TO '1.6'" in c["action"] for c in rehearsal["changes"]
    )
    assert "rollback plan: DROP EXTENSION pg_trgm" in " ".join(steps["rollback_point"]["evidence"]["notes"])

    # the down step: refused while an index needs the extension, then back to the old version
    with superuser() as conn:
        conn.execute("CREATE INDEX upgrade_probe ON hosts USING gin (name gin_trgm_ops)")
        with pytest.raises(RuntimeError, match="depend on it"):
            extension.recreate(conn, "pg_trgm", "1.5", "public")
        conn.execute("DROP INDEX upgrade_probe")
        extension.recreate(conn, "pg_trgm", "1.5", "public")
    assert installed("pg_trgm") == "1.5"
