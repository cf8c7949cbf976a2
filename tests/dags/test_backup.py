"""The backup runbook against the sandbox's real PostgreSQL, pgBackRest, Pushgateway and Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from backup_helpers import (
    alert_expr,
    backups,
    eventually,
    load_dag,
    pgbackrest,
    promql,
    pushed,
    repo_path,
)
from dag_runner import run_dag, task_states
from sandbox_fixtures import run_sandbox

from novacron_runbooks.alerts import contract
from novacron_runbooks.backup.repository import BackupSet, parse_verify, verified
from novacron_runbooks.dagkit.report.store import read_report
from sandbox.tools import as_pg_user, find_tools

pytestmark = pytest.mark.sandbox


def backup(**conf):
    return run_dag(load_dag("backup"), {"reason": "test", **conf})


def report(run) -> dict:
    return json.loads(read_report("backup", run.run_id, "json"))


def evidence(run, step: str) -> dict:
    return next(s for s in report(run)["steps"] if s["task_id"] == step)["evidence"]


def test_backup_is_verified_published_and_the_alert_stops_firing(sandbox):
    expr = alert_expr("BackupTooOld", "backup_age")
    if pushed(sandbox, contract.BACKUP_LAST_VERIFIED, type="incr") is None and not promql(
        sandbox, contract.BACKUP_LAST_VERIFIED
    ):
        assert promql(sandbox, expr), "no verified backup published yet: the rule must fire (missing series)"
    before = {b["label"] for b in backups()}

    run = backup(backup_type="incr")

    assert run.state == "success", task_states(run)
    new = [b for b in backups() if b["label"] not in before]
    assert len(new) == 1 and new[0]["type"] == "incr"
    taken = new[0]
    notes = taken["annotation"]
    assert notes["runbook-run"] == f"backup/{run.run_id}"
    assert notes["rows.public.vms"] == "2000" and len(notes["schema"]) == 16
    checked = evidence(run, "verify_backup")["measurements"][0]
    assert checked["verdict"] == "pass" and "valid" in checked["value"]
    took = taken["timestamp"]["stop"] - taken["timestamp"]["start"]
    whole = report(run)["duration_seconds"]
    command = evidence(run, "take_backup")["measurements"][0]["value"]
    print(
        f"incr backup: command {command} s (info {took} s), verify {checked['seconds']} s, run {whole:.1f} s"
    )

    stop = float(taken["timestamp"]["stop"])
    found = eventually(
        lambda: promql(sandbox, f'{contract.BACKUP_LAST_VERIFIED}{{type="incr"}}'),
        20,
        "verified time in Prometheus",
    )
    assert float(found[0]["value"][1]) == stop
    assert found[0]["metric"]["job"] == contract.PUSH_JOB
    published = (contract.BACKUP_LAST_SUCCESS, contract.BACKUP_SIZE_BYTES, contract.BACKUP_DURATION_SECONDS)
    for metric in published:
        assert promql(sandbox, f'{metric}{{type="incr"}}'), metric
    size = promql(sandbox, f'{contract.BACKUP_SIZE_BYTES}{{type="incr"}}')[0]["value"][1]
    assert float(size) == taken["info"]["size"]
    wal = promql(sandbox, contract.WAL_LAST_ARCHIVED)
    assert wal and time.time() - float(wal[0]["value"][1]) < 600

    eventually(lambda: promql(sandbox, expr) == [], 20, "BackupTooOld expression empty after the backup")


def test_dry_run_changes_nothing(sandbox):
    before = [b["label"] for b in backups()]
    published = pushed(sandbox, contract.BACKUP_LAST_SUCCESS, type="full")
    run = backup(backup_type="full", dry_run=True)
    assert run.state == "success", task_states(run)
    assert [b["label"] for b in backups()] == before
    assert pushed(sandbox, contract.BACKUP_LAST_SUCCESS, type="full") == published
    planned = evidence(run, "take_backup")["changes"]
    assert planned == [{"target": "pgbackrest repository", "action": "take a full backup", "applied": False}]
    assert "pgbackrest expire --dry-run" in " ".join(evidence(run, "expire_backups")["notes"])
    archiver = evidence(run, "preflight")["measurements"][0]
    assert archiver["name"] == "pg_stat_archiver" and archiver["verdict"] == "pass"


def _corrupt_a_file_of(label: str) -> tuple[Path, bytes]:
    """Overwrite bytes in the middle of one data file of backup ``label``; return what was there."""
    files = sorted((repo_path() / "backup" / "novacron" / label / "pg_data" / "base").rglob("*.lz4"))
    target = next(f for f in files if f.stat().st_size > 4096)
    original = target.read_bytes()
    middle = len(original) // 2
    target.write_bytes(original[:middle] + b"corrupted by the test" + original[middle + 21 :])
    return target, original


def test_a_corrupted_backup_file_fails_verification_and_is_never_marked_verified(sandbox):
    full = backup(backup_type="full")
    assert full.state == "success", task_states(full)
    print(f"full backup: command {evidence(full, 'take_backup')['measurements'][0]['value']} s")
    full_rule = alert_expr("BackupTooOld", "full_backup_age")
    eventually(lambda: promql(sandbox, full_rule) == [], 20, "full-backup BackupTooOld expression empty")
    label = max(b["label"] for b in backups() if b["type"] == "full")
    verified_before = pushed(sandbox, contract.BACKUP_LAST_VERIFIED, type="incr")
    path, original = _corrupt_a_file_of(label)
    try:
        # the full itself, through the verify path the runbook uses
        result = parse_verify(pgbackrest("verify", "--output=text", "--verbose").stdout)
        raw = next(b for b in backups() if b["label"] == label)
        ok, why = verified(result, BackupSet.from_info(raw))
        assert not ok and "invalid" in why
        # an incremental on top of it references the corrupted file: the runbook must not call it verified
        run = backup(backup_type="incr")
        states = task_states(run)
        assert run.state == "failed"
        assert states["take_backup"] == "success" and states["verify_backup"] == "failed"
        assert states["expire_backups"] == "upstream_failed"
        assert pushed(sandbox, contract.BACKUP_LAST_VERIFIED, type="incr") == verified_before
        error = evidence(run, "verify_backup")["error"]
        assert "failed verification" in error and ": invalid" in error
    finally:
        path.write_bytes(original)
    assert parse_verify(pgbackrest("verify", "--output=text", "--verbose").stdout).status == "ok"


def _stop_primary_when_backup_runs(data_dir: str, stopped: threading.Event) -> None:
    """Crash the primary (``pg_ctl stop -m immediate``) as soon as a pgBackRest backup process exists."""
    deadline = time.monotonic() + 120
    config = f"--config={Path(data_dir).parent}".encode()
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ours = any(arg.startswith(config) for arg in cmdline)  # not another sandbox's backup
            if entry.name.isdigit() and cmdline[0].endswith(b"pgbackrest") and b"backup" in cmdline and ours:
                stop = [find_tools().pg("pg_ctl"), "stop", "-D", data_dir, "-m", "immediate", "-w"]
                subprocess.run(as_pg_user(stop), check=False)
                stopped.set()
                return
        time.sleep(0.02)


def test_primary_killed_during_a_backup_fails_the_run_and_the_next_backup_succeeds(sandbox):
    before = {b["label"] for b in backups()}
    stopped = threading.Event()
    data_dir = str(sandbox.pg_dir / "primary")
    killer = threading.Thread(target=_stop_primary_when_backup_runs, args=(data_dir, stopped), daemon=True)
    killer.start()
    try:
        run = backup(backup_type="full")
    finally:
        killer.join(timeout=5)
        restarted = run_sandbox(sandbox, "start")
    assert stopped.is_set(), "the backup never started"
    assert run.state == "failed"
    assert task_states(run)["take_backup"] == "failed"
    assert "ok   pg_primary" in restarted.stdout, restarted.stdout + restarted.stderr
    assert {b["label"] for b in backups()} == before, "a failed backup must not be listed"
    # the replica's WAL receiver retries on its own interval: wait for it rather than for the start command
    eventually(lambda: run_sandbox(sandbox, "status").returncode == 0, 60, "sandbox healthy again")

    again = backup(backup_type="full")
    assert again.state == "success", task_states(again)
    assert len({b["label"] for b in backups()} - before) == 1


def test_retention_keeps_the_catalog_number_of_full_backups(sandbox):
    fulls = [b["label"] for b in backups() if b["type"] == "full"]
    keep = 7
    run = backup(backup_type="full", dry_run=True)
    planned = [c["target"] for c in evidence(run, "expire_backups")["changes"]]
    assert planned == fulls[: max(len(fulls) - keep, 0)]


def test_encrypted_repository_gets_the_cipher_from_the_connection_secret(sandbox, tmp_path, monkeypatch):
    from novacron_runbooks.hooks.pgbackrest import PgBackRestError, PgBackRestHook

    extra = json.loads(os.environ["AIRFLOW_CONN_NOVACRON_PGBACKREST"])["extra"]
    repo = sandbox.pg_dir / "encrypted-repo-test"
    config = sandbox.pg_dir / "pgbackrest-encrypted.conf"
    repository = extra["repository"]
    text = Path(repository["config"]).read_text().replace(f"repo1-path={repo_path()}", f"repo1-path={repo}")
    config.write_text(text)
    shutil.chown(config, "postgres")
    secret = "a-long-test-passphrase-0123456789"
    moved = {**extra, "repository": {**repository, "config": str(config)}}
    conn = {"conn_type": "generic", "password": secret, "extra": moved}
    monkeypatch.setenv("AIRFLOW_CONN_NOVACRON_PGBACKREST_ENC", json.dumps(conn))
    hook = PgBackRestHook("novacron_pgbackrest_enc")
    try:
        hook.run("stanza-create")
        info = hook.info()
        assert info["cipher"] == "aes-256-cbc"
        assert info["status"]["code"] in (0, 2)  # ok, or "no valid backups" yet
        info_file = repo / "backup" / extra["stanza"] / "backup.info"
        assert info_file.read_bytes().startswith(b"Salted__"), "backup.info is not encrypted on disk"
        plain = {**conn, "password": None}
        monkeypatch.setenv("AIRFLOW_CONN_NOVACRON_PGBACKREST_ENC", json.dumps(plain))
        without = PgBackRestHook("novacron_pgbackrest_enc").info()
        assert (
            without["cipher"] == "none" and without["status"]["code"] == 99
        )  # unreadable without the secret
        with pytest.raises(PgBackRestError):
            PgBackRestHook("novacron_pgbackrest_enc").run("check")
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        config.unlink(missing_ok=True)


def test_a_wrong_client_certificate_fails_the_backup_and_marks_nothing_verified(sandbox, monkeypatch):
    """The repository host presents a certificate the database hosts' TLS servers do not trust."""
    from sandbox import tls
    from sandbox.hosts import BACKUP_HOST

    extra = json.loads(os.environ["AIRFLOW_CONN_NOVACRON_PGBACKREST"])["extra"]
    config = Path(extra["repository"]["config"])
    cert, key = tls.foreign_certificate(sandbox, BACKUP_HOST.name)  # the right CN from the wrong CA
    wrong = config.with_name("backup-host-wrong-cert.conf")
    text = config.read_text().replace(str(tls.cert_file(sandbox, BACKUP_HOST)), str(cert))
    wrong.write_text(text.replace(str(tls.key_file(sandbox, BACKUP_HOST)), str(key)))
    shutil.chown(wrong, "postgres")
    moved = {**extra, "repository": {**extra["repository"], "config": str(wrong)}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVACRON_PGBACKREST", json.dumps({"conn_type": "generic", "extra": moved})
    )
    before = {b["label"] for b in backups()}
    verified_before = pushed(sandbox, contract.BACKUP_LAST_VERIFIED, type="full")
    try:
        run = backup(backup_type="full")
    finally:
        wrong.unlink(missing_ok=True)
        monkeypatch.undo()  # the right connection again, to read the repository as it is
    states = task_states(run)
    assert run.state == "failed", states
    assert states["verify_backup"] != "success", states
    assert {b["label"] for b in backups()} == before, "no backup may be listed"
    assert pushed(sandbox, contract.BACKUP_LAST_VERIFIED, type="full") == verified_before
    failed = next(task for task, state in states.items() if state == "failed")
    error = evidence(run, failed)["error"]
    assert "on repository host failed" in error and "unknown ca" in error, error
