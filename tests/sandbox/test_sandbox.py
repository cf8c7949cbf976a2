"""The sandbox end to end: real PostgreSQL primary and replica, pgBackRest, Prometheus, Alertmanager, the
Kubernetes emulator, the receivers and the API stand-in, started and stopped by ``python -m sandbox``.

The last test stops the sandbox, checks no process is left, and starts it again (a warm start), so the
session fixture stays usable for any test that runs after it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from sandbox_fixtures import free_port_offset, make_layout, run_sandbox, sandbox_env

from sandbox import orchestrator
from sandbox.layout import REPO_ROOT
from sandbox.processes import is_alive
from sandbox.tools import as_pg_user

if TYPE_CHECKING:
    from sandbox.layout import Layout

pytestmark = pytest.mark.sandbox


def conn(conn_id: str) -> dict[str, Any]:
    return dict(json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]))


def connect(conn_id: str) -> psycopg.Connection[Any]:
    c = conn(conn_id)
    return psycopg.connect(
        host=c["host"],
        port=c["port"],
        user=c["login"],
        password=c["password"],
        dbname=c["schema"],
        autocommit=True,
    )


def http_json(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def promql(layout: Layout, query: str) -> list[dict[str, Any]]:
    url = f"{layout.url('prometheus')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    return list(http_json(url)["data"]["result"])


def eventually(check: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout}s (last: {last!r})")


def test_primary_accepts_writes_and_replica_streams_them(sandbox: Layout) -> None:
    marker = f"test-{uuid.uuid4()}"
    with connect("novacron_db") as primary:
        primary.execute(
            "INSERT INTO audit_log (actor, action, entity, entity_id) VALUES (%s, 'test.write', 'vm', 1)",
            (marker,),
        )
        states = primary.execute("SELECT application_name, state FROM pg_stat_replication").fetchall()
    assert [state for _, state in states] == ["streaming"]
    with connect("novacron_db_replica") as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        eventually(
            lambda: (
                replica.execute("SELECT count(*) FROM audit_log WHERE actor = %s", (marker,)).fetchone()
                == (1,)
            ),
            5,
            "insert visible on the replica",
        )


def test_seeded_schema_keeps_its_invariants(sandbox: Layout) -> None:
    with connect("novacron_db") as db:
        assert db.execute("SELECT count(*) FROM vms").fetchone() == (2000,)
        assert db.execute("SELECT count(*) FROM hosts").fetchone() == (100,)
        violations = db.execute("SELECT invariant, violations FROM app_invariant_violations").fetchall()
        assert len(violations) >= 5
        assert all(count == 0 for _, count in violations), violations
        assert db.execute("SHOW data_checksums").fetchone() == ("on",)
        extensions = db.execute("SELECT extname FROM pg_extension").fetchall()
        assert ("pg_stat_statements",) in extensions
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute("DELETE FROM audit_log WHERE id = 1")


def test_every_connection_id_is_exported_and_airflow_hooks_reach_the_databases(sandbox: Layout) -> None:
    from airflow.models.connection import Connection
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from novacron_runbooks import connections as ids

    conn_ids = [
        value
        for name, value in vars(ids).items()
        if name.isupper()
        and isinstance(value, str)
        and value not in ids.OPTIONAL
        and name != "DB_HOST_PREFIX"
    ]
    conn_ids += [ids.DB_HOST_PREFIX + node for node in ("pg_a", "pg_b")]
    for conn_id in conn_ids:
        parsed = Connection.from_json(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"], conn_id=conn_id)
        assert parsed.conn_type
    assert PostgresHook(postgres_conn_id=ids.DATABASE).get_first("SELECT pg_is_in_recovery()") == (False,)
    assert PostgresHook(postgres_conn_id=ids.DATABASE_REPLICA).get_first("SELECT pg_is_in_recovery()") == (
        True,
    )


def test_pgbackrest_check_passes_and_a_full_backup_exists(sandbox: Layout) -> None:
    extra = conn("novacron_pgbackrest")["extra"]
    base = [
        shutil.which("pgbackrest") or "pgbackrest",
        f"--config={extra['repository']['config']}",
        f"--stanza={extra['stanza']}",
    ]
    check = subprocess.run(as_pg_user([*base, "check"]), capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    info = subprocess.run(
        as_pg_user([*base, "info", "--output=json"]), capture_output=True, text=True, check=True
    )
    backups = json.loads(info.stdout)[0]["backup"]
    assert any(backup["type"] == "full" for backup in backups)


def test_a_client_certificate_from_another_ca_is_refused_by_the_database_hosts(sandbox: Layout) -> None:
    """The repository host presents a certificate no database host trusts: pgBackRest reaches neither."""
    from sandbox import pgbackrest, tls
    from sandbox.hosts import BACKUP_HOST

    cert, key = tls.foreign_certificate(sandbox, BACKUP_HOST.name)  # the right CN, the wrong CA
    config = pgbackrest.repository_config(sandbox)
    wrong = config.with_name("backup-host-foreign-cert.conf")
    text = config.read_text()
    text = text.replace(str(tls.cert_file(sandbox, BACKUP_HOST)), str(cert))
    text = text.replace(str(tls.key_file(sandbox, BACKUP_HOST)), str(key))
    wrong.write_text(text)
    shutil.chown(wrong, "postgres")
    try:
        argv = [shutil.which("pgbackrest") or "pgbackrest", f"--config={wrong}", "--stanza=novacron", "check"]
        refused = subprocess.run(as_pg_user(argv), capture_output=True, text=True, check=False, timeout=120)
        assert refused.returncode != 0
        output = refused.stdout + refused.stderr
        assert "unable to find primary cluster" in output or "TLS" in output, output
        assert "pg1" in output and "pg2" in output, output
    finally:
        wrong.unlink(missing_ok=True)


def test_each_host_has_its_own_sshd_and_host_key(sandbox: Layout) -> None:
    keys = {conn_id: conn(conn_id)["extra"]["host_key"] for conn_id in HOST_CONNECTIONS}
    ports = {conn(conn_id)["port"] for conn_id in HOST_CONNECTIONS}
    assert len(set(keys.values())) == len(ports) == len(HOST_CONNECTIONS), keys
    for conn_id in HOST_CONNECTIONS:
        extra = conn(conn_id)["extra"]
        assert extra["no_host_key_check"] is False and extra["host_key"].startswith("ssh-ed25519 ")
    sshd_config = (sandbox.pg_dir / "hosts" / "pg-a" / "sshd_config").read_text()
    assert "PasswordAuthentication no" in sshd_config and "ListenAddress 127.0.0.1" in sshd_config


HOST_CONNECTIONS = ("novacron_backup_host", "novacron_db_host_pg_a", "novacron_db_host_pg_b")
SCRAPE_JOBS = {"novacron-api", "postgres", "prometheus", "alertmanager", "pushgateway", "airflow"}


def test_prometheus_scrapes_every_target_and_the_standin(sandbox: Layout) -> None:
    def all_up() -> dict[str, str]:
        targets = http_json(f"{sandbox.url('prometheus')}/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if set(health) == SCRAPE_JOBS and all(h == "up" for h in health.values()) else {}

    eventually(all_up, 20, "all Prometheus targets up")
    eventually(
        lambda: promql(sandbox, 'count({job="novacron-api", __name__!~"up|scrape_.*"})'),
        10,
        "a stand-in metric in Prometheus",
    )
    assert promql(sandbox, "pg_up")[0]["value"][1] == "1"


def test_alertmanager_is_ready(sandbox: Layout) -> None:
    with urllib.request.urlopen(f"{sandbox.url('alertmanager')}/-/ready", timeout=5) as response:
        assert response.status == 200


def test_emulator_serves_deployments_in_namespace_novacron(sandbox: Layout) -> None:
    from kubernetes import client, config

    api = client.AppsV1Api(config.new_client_from_config(config_file=str(sandbox.kubeconfig)))
    names = [d.metadata.name for d in api.list_namespaced_deployment("novacron").items]
    assert names, "the emulator holds no deployments in namespace novacron"


def test_receivers_record_a_posted_slack_message(sandbox: Layout) -> None:
    slack = conn("novacron_slack")
    marker = f"sandbox test {uuid.uuid4()}"
    reply = http_json(
        slack["extra"]["base_url"] + "chat.postMessage",
        {"channel": "#sre", "text": marker},
        headers={"Authorization": f"Bearer {slack['password']}"},
    )
    assert reply["ok"] is True
    recorded = json.dumps(http_json(f"{sandbox.url('receivers')}/_messages?kind=slack"))
    assert marker in recorded


def test_error_rate_fault_shows_in_promql(sandbox: Layout) -> None:
    rate = (
        'sum(rate(http_requests_total{job="novacron-api",code=~"5.."}[10s]))'
        ' / sum(rate(http_requests_total{job="novacron-api"}[10s]))'
    )
    flipped = run_sandbox(sandbox, "fault", "error_rate", "0.5")
    assert flipped.returncode == 0, flipped.stderr
    try:

        def high() -> bool:
            for _ in range(20):  # traffic, in case the stand-in serves none of its own
                try:
                    urllib.request.urlopen(f"{sandbox.url('standin')}/api/v1/vms", timeout=2).close()
                except OSError:
                    pass
            result = promql(sandbox, rate)
            return bool(result) and float(result[0]["value"][1]) > 0.2

        eventually(high, 40, "error rate above 20% after error_rate=0.5", interval=1)
    finally:
        assert run_sandbox(sandbox, "fault", "clear").returncode == 0


def test_second_start_is_harmless(sandbox: Layout) -> None:
    names = orchestrator.components.ORDER
    before = {name: orchestrator.components.running_pid(sandbox, name) for name in names}
    again = run_sandbox(sandbox, "start")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already running") == len(names) - len(orchestrator.components.PORTLESS)
    assert "already configured" in again.stdout
    assert {name: orchestrator.components.running_pid(sandbox, name) for name in before} == before


def test_a_port_held_by_another_process_is_named_before_anything_starts() -> None:
    # free ports beside the session's sandbox (a pinned offset would otherwise be the session's own)
    layout = make_layout(free_port_offset(skip=1))
    port = layout.port("prometheus")
    try:
        with socket.socket() as blocker:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
            blocker.bind(("127.0.0.1", port))
            blocker.listen()
            result = run_sandbox(layout, "start", timeout=60)
        assert result.returncode != 0
        assert f"port {port} (prometheus)" in result.stderr
        assert not (layout.pg_dir / "primary").exists()
        assert not any(layout.run_dir.glob("*.pid")) if layout.run_dir.exists() else True
    finally:
        shutil.rmtree(layout.root, ignore_errors=True)


def test_missing_packages_name_the_apt_get_command(tmp_path: Path) -> None:
    layout = make_layout()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sandbox", "start"],
            cwd=REPO_ROOT,
            env={**os.environ, **sandbox_env(layout), "PATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "apt-get install -y " in result.stderr
        assert "prometheus-alertmanager" in result.stderr
        assert not layout.pg_dir.exists()
    finally:
        shutil.rmtree(layout.root, ignore_errors=True)


def _processes_mentioning(root: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and str(root) in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def test_stop_leaves_no_process_and_a_warm_start_restores(sandbox: Layout) -> None:
    """Nothing survives ``stop``, not even an SSH session a client still holds open, and a start restores.

    A runbook task's process keeps its session to a host; sshd's child for it leaves the listener's process
    group, so a stop that signalled only the group left it running. The session's sandbox is started again
    whatever happens here: the later tests of this worker use it.
    """
    from novacron_runbooks import connections
    from novacron_runbooks.hooks.node import HostShell

    held = HostShell(connections.DB_HOST_PREFIX + "pg_a", "pg-a")
    try:
        assert held.run(["id", "-un"], what="whoami").strip() == "postgres"
        pids = orchestrator.our_pids(sandbox)
        assert len(pids) >= 9
        stopped = run_sandbox(sandbox, "stop")
        assert stopped.returncode == 0, stopped.stderr
        alive = [pid for pid in pids if is_alive(pid)]
        assert alive == []
        assert _processes_mentioning(sandbox.root) == []
        assert run_sandbox(sandbox, "status").returncode == 1
    finally:
        held.close()
        began = time.monotonic()
        warm = run_sandbox(sandbox, "start")
        print(f"warm start: {time.monotonic() - began:.1f}s\n{warm.stdout}")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert run_sandbox(sandbox, "status").returncode == 0
