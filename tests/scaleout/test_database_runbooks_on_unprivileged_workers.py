"""The database runbooks end to end on Celery workers that cannot touch a database host's disk.

The production shape: an Airflow worker is never the database host. Here the Celery workers (and so every
task) run as ``novacron-worker``, an OS user this module creates, which cannot read PostgreSQL's data folders
and cannot become anyone else (no ``runuser``, no ``sudo``). Everything a task does on a database host or the
backup host goes through the connections: SSH (``hooks/node.py``), pgBackRest's TLS servers, PostgreSQL over
TCP. A step that still reached for a local file or program would fail here.

The runbooks act on a sandbox of their own (a failover and a restore change it), while the stack's metadata
database lives on the session's sandbox, so a failover never takes Airflow down with it. On the stack, in
turn: a full backup with verify; ``backup_validation`` (the scratch restore on its host); ``restore`` of a
point in time to scratch with exactly the rows committed before it; the DR drill for ``data_corruption``
for ``database_failure`` (SIGKILL of the primary's postmaster, the replica promoted, no acknowledged row
lost), then for ``data_corruption`` on the promoted primary, the order of the monthly drill.
"""

from __future__ import annotations

import contextlib
import json
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backup_helpers import backups
from recovery_helpers import after_newest_backup, scratch
from sandbox_fixtures import make_layout, running_sandbox

from novacron_runbooks import connections
from novacron_runbooks.dagkit.report.store import safe_segment
from novacron_runbooks.hooks.database import connect_primary
from sandbox.celery_stack import CeleryStack, as_worker_user, start_celery_stack
from sandbox.layout import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.layout import Layout

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]

WORKER_USER = "novacron-worker"
DRILL_USER = "dr_drill"
RUNBOOKS = ("backup", "backup_validation", "restore", "dr_drill", "dr_database_failure", "dr_data_corruption")


def ensure_worker_user() -> pwd.struct_passwd:
    """The unprivileged OS user the workers run as: no home, no shell, no groups (made once per machine)."""
    try:
        return pwd.getpwnam(WORKER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                WORKER_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(WORKER_USER)


def folders_to_traverse() -> list[Path]:
    """The folders above the interpreter and the checkout that the worker user could not pass through.

    A worker image has its Python and its code readable by the worker. Here the interpreter may live under
    root's home (a pyenv build), so the worker user gets search permission (``x``, not even a listing) on
    exactly those folders, as a POSIX ACL entry for it alone, removed after the module.
    """
    places = {Path(sys.executable).resolve().parent, REPO_ROOT}
    needed: set[Path] = set()
    for place in places:
        for folder in (place, *place.parents):
            if not folder.stat().st_mode & stat.S_IXOTH:
                needed.add(folder)
    return sorted(needed)


@contextlib.contextmanager
def traversable_for_the_worker() -> Iterator[None]:
    setfacl = shutil.which("setfacl")
    folders = folders_to_traverse()
    if folders and setfacl is None:
        pytest.fail("setfacl (Debian package acl) is needed: scripts/setup.sh installs it")
    granted: list[tuple[Path, bool]] = []
    try:
        for folder in folders:
            had_acl = _has_extended_acl(folder)
            grant = [str(setfacl), "-m", f"u:{WORKER_USER}:x", str(folder)]
            subprocess.run(grant, check=True, capture_output=True)
            granted.append((folder, had_acl))
        yield
    finally:
        for folder, had_acl in granted:
            # a folder without an ACL before gets none back (-b); otherwise only our entry goes
            undo = ["-x", f"u:{WORKER_USER}"] if had_acl else ["-b"]
            subprocess.run([str(setfacl), *undo, str(folder)], check=False, capture_output=True)


def _has_extended_acl(folder: Path) -> bool:
    shown = subprocess.run(["getfacl", "-cp", str(folder)], capture_output=True, text=True, check=True)
    entries = [line for line in shown.stdout.splitlines() if line and not line.startswith("#")]
    return any(not line.startswith(("user::", "group::", "other::")) for line in entries)


def as_worker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(as_worker_user(list(argv), WORKER_USER), capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def target(sandbox: Layout) -> Iterator[Layout]:
    """The sandbox the runbooks act on (its connections are the process's while the module runs)."""
    with running_sandbox(
        make_layout(port_offset=sandbox.port_offset + 50), "runbook target sandbox"
    ) as layout:
        yield layout


@pytest.fixture(scope="module")
def stack(sandbox: Layout, target: Layout) -> Iterator[CeleryStack]:
    ensure_worker_user()
    with traversable_for_the_worker():
        yield from _stack(sandbox, target)


def _stack(sandbox: Layout, target: Layout) -> Iterator[CeleryStack]:
    probe = "import sys, airflow; print(tuple(sys.version_info[:3]))"
    ran = as_worker(sys.executable, "-c", probe)
    if ran.returncode != 0 or ran.stdout.strip().splitlines()[-1:] != [str(tuple(sys.version_info[:3]))]:
        pytest.fail(
            f"{WORKER_USER} cannot run {sys.executable} as this suite does:\n{ran.stdout}{ran.stderr[-2000:]}"
        )
    # the stack's own folder of links to the runbooks, where the worker user can read it (pytest's is root's)
    dags = Path(tempfile.mkdtemp(prefix="novacron-dags-"))
    dags.chmod(0o755)
    for dag_id in RUNBOOKS:
        (dags / f"{dag_id}.py").symlink_to(REPO_ROOT / "dags" / f"{dag_id}.py")
    try:
        yield from _started_stack(sandbox, target, dags)
    finally:
        shutil.rmtree(dags, ignore_errors=True)


def _started_stack(sandbox: Layout, target: Layout, dags: Path) -> Iterator[CeleryStack]:
    started = time.monotonic()
    running = start_celery_stack(
        target,
        wait_for_dag="dr_drill",
        dags_folder=dags,
        worker_user=WORKER_USER,
        metadata_on=sandbox,
        extra_env={"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{DRILL_USER}:op"},
    )
    print(f"celery stack with unprivileged workers ready after {time.monotonic() - started:.1f} s")
    try:
        running.server.wait_for_dags(set(RUNBOOKS))
        _drill_account(running)
        # the daily validation stays paused until its test: unpaused, it starts its catch-up run at once
        running.server.unpause(*(dag_id for dag_id in RUNBOOKS if dag_id != "backup_validation"))
        yield running
    finally:
        running.stop()


def _drill_account(stack: CeleryStack) -> None:
    """Let the drill answer the corruption runbook's approval as ``dr_drill`` (an operator)."""
    password = json.loads((stack.home / "passwords.json").read_text())[DRILL_USER]
    body = {
        "connection_id": connections.AIRFLOW_API,
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": int(stack.server.base_url.rsplit(":", 1)[1]),
        "login": DRILL_USER,
        "password": password,
    }
    status, reply = stack.server.request("POST", "/api/v2/connections", body)
    assert status == 201, reply


def trigger(stack: CeleryStack, dag_id: str, conf: dict[str, Any], timeout: float = 900) -> tuple[str, dict]:
    status, run = stack.server.request(
        "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
    )
    assert status == 200, run
    done = stack.server.wait_for_run(dag_id, run["dag_run_id"], timeout=timeout)
    return run["dag_run_id"], done


def task_states(stack: CeleryStack, dag_id: str, run_id: str) -> dict[str, str]:
    status, body = stack.server.request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200"
    )
    assert status == 200, body
    return {
        ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
        for ti in body["task_instances"]
    }


def failure(stack: CeleryStack, dag_id: str, run_id: str) -> str:
    """Each failed task and the tail of its log (the worker's), for the assertion message."""
    states = task_states(stack, dag_id, run_id)
    lines = [str(states)]
    for task in (t for t, state in states.items() if state == "failed" and "[" not in t):
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task}/logs/1?full_content=true"
        status, body = stack.server.request("GET", path)
        lines.append(f"--- {task} ({status}):\n{str(body)[-3000:]}")
    return "\n".join(lines)


def report(stack: CeleryStack, dag_id: str, run_id: str) -> dict[str, Any]:
    path = stack.home / "runbook_reports" / safe_segment(dag_id) / safe_segment(run_id) / "report.json"
    return dict(json.loads(path.read_text()))


def test_the_workers_run_as_a_user_that_cannot_reach_the_database_disk(stack: CeleryStack, target: Layout):
    entry = pwd.getpwnam(WORKER_USER)
    for name in stack.workers:
        status = Path(f"/proc/{stack.processes[name].pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(entry.pw_uid)] * 4, uid_line
    for folder in (target.pg_dir, target.pg_dir / "primary", target.pg_dir / "replica"):
        listed = as_worker("ls", str(folder))
        assert listed.returncode != 0 and "Permission denied" in listed.stderr, (folder, listed)
    assert as_worker("runuser", "-u", "postgres", "--", "true").returncode != 0
    if shutil.which("sudo"):
        assert as_worker("sudo", "-n", "true").returncode != 0


def test_a_full_backup_is_taken_and_verified(stack: CeleryStack):
    before = {b["label"] for b in backups()}
    run_id, done = trigger(stack, "backup", {"backup_type": "full", "reason": "unprivileged worker test"})
    assert done["state"] == "success", failure(stack, "backup", run_id)
    new = [b for b in backups() if b["label"] not in before]
    assert [b["type"] for b in new] == ["full"]
    assert new[0]["annotation"]["runbook-run"] == f"backup/{run_id}"
    steps = {s["task_id"]: s["evidence"] for s in report(stack, "backup", run_id)["steps"]}
    checked = steps["verify_backup"]["measurements"][0]
    assert checked["verdict"] == "pass" and "valid" in checked["value"]


def test_the_newest_backup_is_validated_on_the_scratch_host(stack: CeleryStack, target: Layout):
    stack.server.unpause("backup_validation")  # its catch-up run goes first (max_active_runs=1), then ours
    run_id, done = trigger(stack, "backup_validation", {"reason": "unprivileged worker test"})
    assert done["state"] == "success", failure(stack, "backup_validation", run_id)
    states = task_states(stack, "backup_validation", run_id)
    for task in (
        "restore_scratch",
        "check_integrity",
        "compare_with_backup",
        "smoke_query",
        "teardown_scratch",
    ):
        assert states[task] == "success", states
    steps = {s["task_id"]: s["evidence"] for s in report(stack, "backup_validation", run_id)["steps"]}
    counts = {m["name"]: m for m in steps["compare_with_backup"]["measurements"]}
    assert counts["rows public.vms"]["value"] == {"backup": 2000, "restored": 2000}
    assert not (target.pg_dir / "scratch").exists()


def test_a_point_in_time_restore_to_scratch_has_exactly_the_rows_before_the_target(stack: CeleryStack):
    after_newest_backup()
    with connect_primary() as conn:
        conn.execute("CREATE TABLE celery_restore_probe (seq integer PRIMARY KEY)")
        for seq in range(1, 31):
            conn.execute("INSERT INTO celery_restore_probe VALUES (%s)", (seq,))
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        conn.execute("DROP TABLE celery_restore_probe")
        conn.execute("CREATE TABLE celery_written_after AS SELECT generate_series(1, 5) AS seq")
    assert row is not None
    conf = {
        "target_time": row[0].astimezone(UTC).isoformat(),
        "dry_run": False,
        "keep_scratch": True,
        "reason": "unprivileged worker test",
    }
    run_id, done = trigger(stack, "restore", conf)
    try:
        assert done["state"] == "success", failure(stack, "restore", run_id)
        states = task_states(stack, "restore", run_id)
        assert states["restore_primary"] == "skipped"
        with scratch().connect("novacron") as copy:
            seqs = [
                r[0] for r in copy.execute("SELECT seq FROM celery_restore_probe ORDER BY seq").fetchall()
            ]
            after = copy.execute("SELECT to_regclass('public.celery_written_after')").fetchone()
        assert seqs == list(range(1, 31))
        assert after == (None,)
    finally:
        scratch().remove()


def drill(stack: CeleryStack, scenario: str) -> dict[str, Any]:
    """Run the DR drill for ``scenario``; return what its ``measure`` step recorded."""
    conf = {"dry_run": False, "scenarios": [scenario], "reason": "unprivileged worker test"}
    run_id, done = trigger(stack, "dr_drill", conf, timeout=1800)
    steps = {s["task_id"]: s for s in report(stack, "dr_drill", run_id)["steps"]}
    measured = steps[f"{scenario}.measure"]["evidence"] or {}
    if done["state"] != "success":
        pytest.fail(f"{failure(stack, 'dr_drill', run_id)}\nmeasure: {measured.get('error')}", pytrace=False)
    return {m["name"]: m for m in measured.get("measurements", [])}


def test_the_database_failure_drill_promotes_the_replica_without_losing_a_row(stack: CeleryStack):
    values = drill(stack, "database_failure")
    assert values["dr_database_failure run outcome"]["value"] == "success", values
    rto = values["dr_database_failure RTO seconds"]
    assert 0 < rto["value"] < rto["target"]
    loss = values["dr_database_failure acknowledged rows lost"]["value"]
    assert loss["acknowledged"] > 0 and loss["lost"] == 0, loss


def test_the_data_corruption_drill_recovers_within_its_targets(stack: CeleryStack):
    values = drill(stack, "data_corruption")
    assert values["dr_data_corruption run outcome"]["value"] == "success", values
    rto = values["dr_data_corruption RTO seconds"]
    assert 0 < rto["value"] < rto["target"]
    loss = values["dr_data_corruption acknowledged rows lost"]["value"]
    assert loss["acknowledged"] > 0 and loss["lost"] == 0, loss
