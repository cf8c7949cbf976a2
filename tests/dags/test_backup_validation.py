"""The daily test restore against the sandbox: a real restore into scratch, pg_amcheck, counts, teardown."""

from __future__ import annotations

import json
import socket

import pytest
from backup_helpers import backups, eventually, load_dag, pgbackrest, promql, pushed
from dag_runner import run_dag, task_states

from novacron_runbooks.alerts import contract
from novacron_runbooks.dagkit.report.store import read_report

pytestmark = pytest.mark.sandbox


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _report(run) -> dict:
    return json.loads(read_report("backup_validation", run.run_id, "json"))


@pytest.fixture(scope="module")
def fresh_backup(sandbox):
    """A backup taken by the backup runbook, so it carries the database state at its point."""
    run = run_dag(load_dag("backup"), {"backup_type": "full", "reason": "validation test"})
    assert run.state == "success", task_states(run)
    return backups()[-1]


def test_validation_restores_checks_compares_and_tears_down(sandbox, fresh_backup):
    scratch_dir = sandbox.pg_dir / "scratch"
    run = run_dag(load_dag("backup_validation"), {"reason": "test"})

    states = task_states(run)
    assert run.state == "success", states
    for task in (
        "restore_scratch",
        "check_integrity",
        "compare_with_backup",
        "smoke_query",
        "publish_result",
    ):
        assert states[task] == "success", states
    assert states["teardown_scratch"] == "success"
    assert not _listening(sandbox.port("pg_scratch")), "scratch instance still listening"
    assert not scratch_dir.exists(), "scratch data folder left behind"

    report = _report(run)
    steps = {s["task_id"]: s["evidence"] for s in report["steps"]}
    assert fresh_backup["label"] in steps["find_backup"]["notes"][0]
    counts = {m["name"]: m for m in steps["compare_with_backup"]["measurements"]}
    assert counts["rows public.vms"]["value"] == {"backup": 2000, "restored": 2000}
    assert all(m["verdict"] == "pass" for m in counts.values())
    target = next(t for t in report["targets"] if t["name"] == "test_restore_time_seconds")
    print(f"test restore: {target['measured_seconds']} s to a writable scratch copy")
    assert 0 < target["measured_seconds"] < target["target_seconds"] == 3600

    assert pushed(sandbox, contract.VALIDATION_PASSED) == 1.0
    restore = pushed(sandbox, contract.VALIDATION_RESTORE_SECONDS)
    assert restore == target["measured_seconds"]
    scraped = eventually(lambda: promql(sandbox, contract.VALIDATION_PASSED), 20, "validation result scraped")
    assert scraped[0]["value"][1] == "1"


def test_an_unknown_backup_set_is_refused_before_anything_changes(sandbox, fresh_backup):
    before = pushed(sandbox, contract.VALIDATION_LAST_SUCCESS)
    run = run_dag(load_dag("backup_validation"), {"backup_set": "20200101-000000F"})
    states = task_states(run)
    assert run.state == "failed"
    assert states["find_backup"] == "failed"
    assert states["restore_scratch"] == "upstream_failed"
    assert not (sandbox.pg_dir / "scratch").exists()
    assert pushed(sandbox, contract.VALIDATION_LAST_SUCCESS) == before
    assert "param 'backup_set': 20200101-000000F is not in the repository" in read_report(
        "backup_validation", run.run_id, "markdown"
    )


def test_a_copy_that_differs_from_the_backup_fails_publishes_failed_and_is_still_torn_down(
    sandbox, fresh_backup
):
    label = backups()[-1]["label"]
    annotated = backups()[-1]["annotation"]
    wrong = int(annotated["rows.public.hosts"]) + 1
    pgbackrest("annotate", f"--set={label}", f"--annotation=rows.public.hosts={wrong}")
    try:
        run = run_dag(load_dag("backup_validation"), {"reason": "test"})
    finally:
        pgbackrest(
            "annotate", f"--set={label}", f"--annotation=rows.public.hosts={annotated['rows.public.hosts']}"
        )
    states = task_states(run)
    assert run.state == "failed"
    assert states["compare_with_backup"] == "failed"
    assert states["check_integrity"] == "success" and states["smoke_query"] == "success"
    assert states["publish_result"] == "success" and states["teardown_scratch"] == "success"
    assert pushed(sandbox, contract.VALIDATION_PASSED) == 0.0
    assert not _listening(sandbox.port("pg_scratch"))
    assert not (sandbox.pg_dir / "scratch").exists()
