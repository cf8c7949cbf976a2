"""The restore runbook on the sandbox: a point-in-time restore, refusals, an unapproved production run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backup_helpers import backups, load_dag
from dag_runner import respond_when_asked, run_dag, task_states
from recovery_helpers import after_newest_backup, primary_state, scratch

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.hooks.database import connect_primary

pytestmark = pytest.mark.sandbox


def test_point_in_time_restore_brings_back_every_row_before_a_drop_table_and_nothing_after(isolated_sandbox):
    after_newest_backup()
    with connect_primary() as conn:
        conn.execute("CREATE TABLE restore_probe (seq integer PRIMARY KEY)")
        for seq in range(1, 51):  # 50 commits, one row each
            conn.execute("INSERT INTO restore_probe VALUES (%s)", (seq,))
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        conn.execute("DROP TABLE restore_probe")
        conn.execute("CREATE TABLE written_after_drop AS SELECT generate_series(1, 10) AS seq")
    target = row[0].astimezone(UTC).isoformat()

    conf = {"target_time": target, "dry_run": False, "keep_scratch": True, "reason": "test"}
    run = run_dag(load_dag("restore"), conf)
    try:
        states = task_states(run)
        assert run.state == "success", states
        assert states["approve"] == "skipped" and states["restore_primary"] == "skipped"
        with scratch().connect("novacron") as copy:
            seqs = [r[0] for r in copy.execute("SELECT seq FROM restore_probe ORDER BY seq").fetchall()]
            after = copy.execute("SELECT to_regclass('public.written_after_drop')").fetchone()
        assert seqs == list(range(1, 51))
        assert after == (None,)
    finally:
        scratch().remove()

    report = json.loads(read_report("restore", run.run_id, "json"))
    targets = {t["name"]: t["measured_seconds"] for t in report["targets"]}
    print(f"point-in-time restore: RTO {targets['rto_seconds']} s, RPO {targets['rpo_seconds']} s")
    assert 0 < targets["rto_seconds"] < 300
    assert 0 <= targets["rpo_seconds"] < 120


@pytest.mark.parametrize(
    ("target_time", "message"),
    [
        ("2099-01-01T00:00:00Z", "is in the future"),
        ("2001-01-01T00:00:00Z", "is before the oldest backup ends"),
        ("2026-13-01T00:00:00Z", "is not an ISO-8601 time"),
    ],
    ids=["future", "before-oldest-backup", "malformed"],
)
def test_bad_target_times_are_refused_before_anything_changes(sandbox, target_time, message):
    labels = [b["label"] for b in backups()]
    before = primary_state()
    run = run_dag(load_dag("restore"), {"target_time": target_time, "dry_run": False, "target": "production"})
    states = task_states(run)
    assert run.state == "failed"
    assert states["plan_restore"] == "failed"
    assert {states[t] for t in ("approve", "safety_backup", "restore_scratch")} == {"upstream_failed"}
    text = read_report("restore", run.run_id, "markdown")
    assert "param 'target_time'" in text and message in text
    assert [b["label"] for b in backups()] == labels
    assert primary_state() == before
    assert not Path(scratch().data_dir).exists()


def test_a_production_restore_without_approval_changes_nothing(sandbox):
    labels = [b["label"] for b in backups()]
    before = primary_state()
    target = (datetime.now(tz=UTC) - timedelta(seconds=5)).isoformat()
    answered = respond_when_asked("restore", "approve", "Reject", user="dba-oncall")
    run = run_dag(load_dag("restore"), {"target": "production", "target_time": target, "dry_run": False})
    states = task_states(run)
    assert answered.get("run_id") == run.run_id, answered
    assert run.state == "failed"  # a CI caller must not read a rejected restore as done
    assert (states["approve"], states["rejected"]) == ("success", "success")
    for step in ("safety_backup", "stop_writes", "restore_primary", "resume_writes", "rebuild_replica"):
        assert states[step] == "skipped", (step, states)
    assert [b["label"] for b in backups()] == labels, "a safety backup was taken"
    assert primary_state() == before, "the primary changed"
    report = json.loads(read_report("restore", run.run_id, "json"))
    assert report["outcome"] == "rejected"
    assert report["approvals"][0]["by"] == "dba-oncall"
