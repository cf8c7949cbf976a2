"""The database runbooks on workers that cannot touch the database disk: the production shape, proven.

An Airflow worker is never the database host. Here the Celery workers run as an OS user this test creates,
with no read access to the PostgreSQL data folders or the pgBackRest repository and no way to become
another user; everything they do to the database hosts goes through the connections (SSH with pinned host
keys, pgBackRest's TLS servers, PostgreSQL over TCP). On that stack, through the REST API: a full backup
with verify, the daily test restore into the scratch instance on its host, and a point-in-time restore
whose copy holds exactly the rows committed before the target.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

import pytest
from backup_helpers import backups, pgbackrest
from recovery_helpers import after_newest_backup, scratch

from novacron_runbooks.hooks.database import connect_primary
from sandbox.celery_stack import CeleryStack, as_worker_user, start_celery_stack
from sandbox.layout import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]
WORKER_USER = "novacron-worker"
DAGS = ("backup", "backup_validation", "restore")
RUN_TIMEOUT = 600


def _ensure_worker_user() -> str:
    """An unprivileged system user with no home and no shell; created once, kept for later runs."""
    try:
        pwd.getpwnam(WORKER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", WORKER_USER],
            check=True,
            timeout=60,
        )
    return WORKER_USER


def _as_worker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_worker_user(list(argv), WORKER_USER), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def unprivileged_stack(sandbox, tmp_path: Path) -> Iterator[CeleryStack]:
    _ensure_worker_user()
    dags = tmp_path / "dags"
    dags.mkdir()
    tmp_path.chmod(0o755)
    dags.chmod(0o755)
    for dag_id in DAGS:
        (dags / f"{dag_id}.py").symlink_to(REPO_ROOT / "dags" / f"{dag_id}.py")
    stack = start_celery_stack(
        sandbox, wait_for_dag=DAGS[-1], dags_folder=dags, workers=1, concurrency=2, worker_user=WORKER_USER
    )
    try:
        for dag_id in DAGS:
            status, body = stack.server.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            assert status == 200, body
        yield stack
    finally:
        stack.stop()


def _run(stack: CeleryStack, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    status, body = stack.server.request(
        "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
    )
    assert status == 200, body
    run = stack.server.wait_for_run(dag_id, body["dag_run_id"], timeout=RUN_TIMEOUT)
    if run["state"] != "success":
        path = f"/api/v2/dags/{dag_id}/dagRuns/{body['dag_run_id']}/taskInstances?limit=100"
        _, tis = stack.server.request("GET", path)
        states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
        log = stack.log(stack.workers[0]).read_text(errors="replace")[-4000:]
        pytest.fail(f"{dag_id} ended {run['state']}: {states}\nworker log tail:\n{log}")
    return run


def test_the_worker_user_cannot_reach_the_database_disk(sandbox, unprivileged_stack: CeleryStack):
    for folder in ("primary", "replica", "pgbackrest/repo"):
        denied = _as_worker("ls", str(sandbox.pg_dir / folder))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, (folder, denied)
    assert _as_worker("id", "-un").stdout.strip() == WORKER_USER
    for escalate in ("runuser", "sudo", "su"):
        if shutil.which(escalate):
            tried = _as_worker(escalate, "-u" if escalate != "su" else "-", "postgres", "-c", "true")
            assert tried.returncode != 0, f"{escalate} let the worker user become postgres"
    worker = unprivileged_stack.processes[unprivileged_stack.workers[0]]
    with open(f"/proc/{worker.pid}/status") as status:
        uid_line = next(line for line in status if line.startswith("Uid:"))
    assert int(uid_line.split()[1]) == pwd.getpwnam(WORKER_USER).pw_uid, uid_line


def test_backup_validation_and_point_in_time_restore_run_through_the_connections(
    sandbox, unprivileged_stack: CeleryStack
):
    before = {b["label"] for b in backups()}
    _run(unprivileged_stack, "backup", {"reason": "unprivileged worker", "backup_type": "full"})
    new = [b for b in backups() if b["label"] not in before]
    assert len(new) == 1 and new[0]["type"] == "full"
    assert pgbackrest("verify").returncode == 0

    _run(unprivileged_stack, "backup_validation", {})

    after_newest_backup()
    with connect_primary() as conn:
        conn.execute("DROP TABLE IF EXISTS unprivileged_probe")
        conn.execute("CREATE TABLE unprivileged_probe (seq integer PRIMARY KEY)")
        for seq in range(1, 31):  # 30 commits, one row each
            conn.execute("INSERT INTO unprivileged_probe VALUES (%s)", (seq,))
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        conn.execute("INSERT INTO unprivileged_probe SELECT generate_series(31, 40)")
    target = row[0].astimezone(UTC).isoformat()
    started = time.monotonic()
    conf = {"target_time": target, "dry_run": False, "keep_scratch": True, "reason": "unprivileged worker"}
    _run(unprivileged_stack, "restore", conf)
    print(f"point-in-time restore on an unprivileged worker: {time.monotonic() - started:.1f} s")
    try:
        with scratch().connect("novacron") as copy:
            seqs = [r[0] for r in copy.execute("SELECT seq FROM unprivileged_probe ORDER BY seq").fetchall()]
        assert seqs == list(range(1, 31)), "the copy must hold exactly the rows committed before the target"
    finally:
        scratch().remove()
        with connect_primary() as conn:
            conn.execute("DROP TABLE IF EXISTS unprivileged_probe")
