"""Point-in-time restore into the scratch instance, and what makes the target reachable first.

Recovery to a time stops at the first commit after the target, which it must find in archived WAL: when the
newest commits are still in the primary's current WAL segment, PostgreSQL ends recovery with "recovery ended
before configured recovery target was reached". :func:`archive_now` closes that gap before a restore: one
empty committed transaction on the primary (a commit record later than any target up to now) and
``pgbackrest check``, which switches the WAL segment and waits until the repository holds it.

The restore itself is :meth:`Scratch.restore` (the test restore's code path, with a target time), so the
copy gets the same safety: WAL archiving off, its own port and sockets, a folder only this code removes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from novacron_runbooks.recovery.window import fmt

if TYPE_CHECKING:
    import psycopg

    from novacron_runbooks.backup.scratch import Scratch
    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
    from novacron_runbooks.recovery.window import Window


@dataclass(frozen=True)
class RecoveryPoint:
    """Where a restore goes: a backup set, and optionally a moment to replay WAL up to."""

    backup_set: str
    target_time: datetime | None = None
    inclusive: bool = True
    """False: stop just before a commit at exactly ``target_time`` (the damage's own commit)."""

    def describe(self) -> str:
        if self.target_time is None:
            return f"{self.backup_set} to its end"
        edge = "up to and including" if self.inclusive else "up to just before"
        return f"{self.backup_set} then WAL {edge} {fmt(self.target_time)}"

    def to_json(self) -> dict[str, Any]:
        at = self.target_time.isoformat() if self.target_time else None
        return {"backup_set": self.backup_set, "target_time": at, "inclusive": self.inclusive}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RecoveryPoint:
        at = raw.get("target_time")
        return cls(str(raw["backup_set"]), datetime.fromisoformat(at) if at else None, bool(raw["inclusive"]))


def archive_now(hook: PgBackRestHook, primary: psycopg.Connection[Any]) -> None:
    """Make every commit up to now restorable: a marker commit, then an archived WAL switch (module doc)."""
    # pg_current_xact_id() assigns a transaction id, so this autocommit statement writes a commit record
    primary.execute("SELECT pg_current_xact_id()")
    hook.run("check", timeout=300)


def restore_into(scratch: Scratch, hook: PgBackRestHook, point: RecoveryPoint) -> dict[str, float]:
    """Restore ``point`` into an empty scratch folder and start it; return the timings in seconds."""
    began = time.monotonic()
    scratch.restore(hook, point.backup_set, point.target_time, inclusive=point.inclusive)
    restored = time.monotonic() - began
    scratch.start()
    return {"pgbackrest_restore": round(restored, 2), "writable": round(time.monotonic() - began, 2)}


def rpo_seconds(point: RecoveryPoint, window: Window) -> float:
    """Return the data given up: from the recovery point to the newest point the archive could have reached.

    A backup-set restore to its end is the point the person asked for: 0. A time target gives up what was
    written between it and the newest archived WAL.
    """
    if point.target_time is None:
        return 0.0
    return round(max((window.end - point.target_time).total_seconds(), 0.0), 3)


def utcnow() -> datetime:
    return datetime.now(tz=UTC)
