"""The node transport against the sandbox's real sshd: pinned keys, quoting, deadlines, errors, files.

Each database host of the sandbox is a real OpenSSH server with its own host key, so a "changed" host key is
simply another host's key, and an unreachable host is a port where nothing listens.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from novacron_runbooks import connections
from novacron_runbooks.hooks.node import (
    TIMED_OUT,
    HostCommandError,
    HostKeyRefused,
    HostShell,
    HostUnreachable,
    copy_between,
    remote_command,
)
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.sandbox
PG_A = connections.DB_HOST_PREFIX + "pg_a"
PG_B = connections.DB_HOST_PREFIX + "pg_b"


def _conn(conn_id: str) -> dict[str, Any]:
    return dict(json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]))


@contextmanager
def _variant(conn_id: str, **changes: Any) -> Iterator[str]:
    """A copy of ``conn_id`` under a new id with ``changes`` (top-level keys, or ``extra`` merged)."""
    conn = _conn(conn_id)
    extra = {**conn.get("extra", {}), **changes.pop("extra", {})}
    for key in changes.pop("drop_extra", ()):
        extra.pop(key, None)
    variant_id = f"test_variant_{secrets.token_hex(4)}"
    name = f"AIRFLOW_CONN_{variant_id.upper()}"
    os.environ[name] = json.dumps({**conn, **changes, "extra": extra})
    try:
        yield variant_id
    finally:
        del os.environ[name]


def test_remote_command_is_argv_under_a_deadline() -> None:
    assert remote_command(["echo", "a b", "$(id)"], 30) == "timeout -k 10 30 echo 'a b' '$(id)'"
    with pytest.raises(ValueError, match="program"):
        remote_command([], 30)


def test_runs_as_the_database_user_with_arguments_passed_literally(sandbox: Any) -> None:
    with HostShell(PG_A, "pg-a") as host:
        assert host.run(["id", "-un"], what="whoami").strip() == "postgres"
        hostile = "x'; touch /tmp/pwned-by-runbook; echo '"
        assert host.run(["printf", "%s", hostile], what="echo") == hostile
        assert not host.exists("/tmp/pwned-by-runbook")


def test_a_failing_command_names_the_host_and_keeps_the_output_tail(sandbox: Any) -> None:
    with HostShell(PG_A, "pg-a") as host, pytest.raises(HostCommandError) as caught:
        host.run(["ls", "/no/such/folder"], what="list a missing folder")
    assert caught.value.status == 2
    assert "pg-a: list a missing folder failed (exit 2)" in str(caught.value)
    assert "No such file or directory" in str(caught.value)


def test_a_command_past_its_deadline_is_stopped_on_the_host(sandbox: Any) -> None:
    with HostShell(PG_A, "pg-a") as host, pytest.raises(HostCommandError) as caught:
        host.run(["sleep", "30"], what="sleep", timeout=1)
    assert caught.value.status == TIMED_OUT
    assert "pg-a: sleep timed out" in str(caught.value)


def test_a_changed_host_key_is_refused_before_any_command(sandbox: Any) -> None:
    other_key = _conn(PG_B)["extra"]["host_key"]
    marker = f"/tmp/novacron-hostkey-{secrets.token_hex(4)}"
    with _variant(PG_A, extra={"host_key": other_key}) as conn_id, HostShell(conn_id) as host:
        with pytest.raises(HostKeyRefused, match="host key"):
            host.run(["touch", marker], what="touch")
    with HostShell(PG_A) as host:
        assert not host.exists(marker), "a command ran on a host whose key did not match"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"drop_extra": ["host_key"]}, "no host_key"),
        ({"extra": {"no_host_key_check": True}}, "no_host_key_check"),
        ({"extra": {"allow_host_key_change": "true"}}, "allow_host_key_change"),
        ({"extra": {"host_key": "ssh-ed25519"}}, "not a public key|needs the key type"),
    ],
    ids=["unpinned", "check-off", "change-allowed", "malformed"],
)
def test_a_connection_that_does_not_pin_the_key_is_refused(sandbox: Any, changes: dict, reason: str) -> None:
    with _variant(PG_A, **changes) as conn_id, HostShell(conn_id) as host:
        with pytest.raises(HostKeyRefused, match=reason):
            host.run(["true"], what="true")


def test_an_unreachable_host_is_named_and_says_nothing_of_postgres(sandbox: Any) -> None:
    with _variant(PG_A, port=1) as conn_id, HostShell(conn_id, "pg-a") as host:
        with pytest.raises(HostUnreachable, match=r"pg-a: SSH to 127\.0\.0\.1:1 failed"):
            host.run(["true"], what="true")


def test_files_move_between_hosts_over_sftp(sandbox: Any) -> None:
    folder = str(sandbox.pg_dir / "transport-test")
    with HostShell(PG_A) as a, HostShell(PG_B) as b:
        a.run(["mkdir", "-p", folder], what="mkdir")
        source, copy = posixpath.join(folder, "segment"), posixpath.join(folder, "segment.copy")
        a.write_text(source, "wal bytes\n" * 1000)
        assert a.read_text(source).count("wal bytes") == 1000
        assert "segment" in a.listing(folder)
        copy_between(a, source, b, copy)
        assert b.read_text(copy) == a.read_text(source)
        assert not any(name.endswith(".partial") for name in b.listing(folder))
        assert a.remove(source) and not a.remove(source)
        a.run(["rm", "-rf", folder], what="cleanup")


def test_pgbackrest_info_runs_on_the_repository_host(sandbox: Any) -> None:
    stanza = PgBackRestHook().info()
    assert stanza["name"] == "novacron"
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["backup"], "the sandbox makes a first full backup"
