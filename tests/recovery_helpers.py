"""Shared by the restore and data-corruption tests: the scratch copy, the newest backup, the primary."""

from __future__ import annotations

import time
from typing import Any

from backup_helpers import backups

from novacron_runbooks.backup import snapshot
from novacron_runbooks.backup.scratch import Scratch
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook


def scratch() -> Scratch:
    return Scratch.from_settings(PgBackRestHook().settings())


def after_newest_backup() -> None:
    """Wait until the newest backup is consistent: a target before its end is (rightly) refused."""
    ready = backups()[-1]["timestamp"]["stop"] + 2
    time.sleep(max(0.0, ready - time.time()))


def primary_state() -> tuple[Any, Any]:
    """The primary's start time and every table's row count and row-identity checksum."""
    with connect_primary() as conn:
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        return started, snapshot.state_to_json(snapshot.read_state(conn))
