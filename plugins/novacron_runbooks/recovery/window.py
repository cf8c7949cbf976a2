"""The recoverability window: which points in time the backups and the WAL archive can still bring back.

A point-in-time restore starts from a backup and replays archived WAL up to the target, so a target is
reachable when it lies between the end of the oldest backup (its consistent point: recovery cannot stop
before it) and the newest WAL the repository holds. Both ends come from the repository itself, never from
Airflow's own records, so the window is right after an Airflow database loss:

- start: the oldest backup's stop timestamp (``pgbackrest info``), rounded up to the next whole second, as
  pgBackRest records whole seconds and the backup's consistent point can fall within that second;
- end: when the newest archived WAL segment reached the repository (its ``repo-ls`` time). Commits after that
  are still in the primary's current WAL segment: a live run archives it first (:mod:`pitr`), a plan only
  says so.

Params are checked here before anything changes; every refusal is a :class:`ParamError` naming the field and
quoting the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from novacron_runbooks.backup.repository import BackupSet, backup_sets, newest_archived_segment
from novacron_runbooks.dagkit.params import ParamError

if TYPE_CHECKING:
    from novacron_runbooks.hooks.pgbackrest import PgBackRestHook

STOP_SLACK = timedelta(seconds=1)
"""pgBackRest's stop timestamp is whole seconds; the consistent point may lie anywhere in that second."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def fmt(moment: datetime) -> str:
    """Render a moment the way the reports and messages quote it (UTC, seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Window:
    """From the oldest backup's consistent point to the newest archived WAL."""

    start: datetime
    end: datetime
    oldest_backup: str
    newest_backup: str

    def describe(self) -> str:
        return (
            f"recoverability window {fmt(self.start)} (end of {self.oldest_backup}) "
            f"to {fmt(self.end)} (newest archived WAL)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "oldest_backup": self.oldest_backup,
            "newest_backup": self.newest_backup,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Window:
        return cls(
            datetime.fromisoformat(raw["start"]),
            datetime.fromisoformat(raw["end"]),
            str(raw["oldest_backup"]),
            str(raw["newest_backup"]),
        )


def consistent_at(backup: BackupSet) -> datetime:
    """Return the earliest moment a restore of ``backup`` can stop at (see the module doc)."""
    return _utc(backup.stopped_at) + STOP_SLACK


def window_from(sets: list[BackupSet], archived_at: datetime | None) -> Window | None:
    """Build the window from the backups (oldest first) and the newest WAL's arrival; ``None`` when empty."""
    usable = [s for s in sets if not s.error]
    if not usable:
        return None
    start = consistent_at(usable[0])
    end = max(archived_at or start, consistent_at(usable[-1]))
    return Window(start, end, usable[0].label, usable[-1].label)


def wal_archived_at(hook: PgBackRestHook, info: dict[str, Any]) -> datetime | None:
    """When the repository received its newest WAL segment (the ``repo-ls`` time of that segment's file)."""
    newest = newest_archived_segment(info)
    if newest is None:
        return None
    archive_id, segment = newest
    listing = hook.run(
        "repo-ls",
        "--output=json",
        f"archive/{hook.settings().stanza}/{archive_id}/{segment[:16]}",
        timeout=120,
        stanza=False,
    )
    times = [int(v["time"]) for name, v in json.loads(listing).items() if name.startswith(segment)]
    return _utc(max(times)) if times else None


def read_window(hook: PgBackRestHook) -> tuple[Window, list[BackupSet]]:
    """Read the repository's window and backups; fail when there is nothing to restore from."""
    info = hook.info()
    sets = backup_sets(info)
    window = window_from(sets, wal_archived_at(hook, info))
    if window is None:
        raise ParamError("backup_set", "the repository holds no usable backup: nothing can be restored")
    return window, sets


def parse_target_time(text: str, field: str = "target_time") -> datetime | None:
    """Parse an ISO-8601 time with a zone (``Z`` or an offset); empty is ``None``, anything else refused."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParamError(field, f"{text!r} is not an ISO-8601 time (e.g. 2025-11-12T09:30:00Z)") from None
    if moment.tzinfo is None:
        raise ParamError(field, f"{text!r} has no time zone: add Z or an offset such as +01:00")
    return moment.astimezone(UTC)


def choose_backup(sets: list[BackupSet], label: str, target: datetime | None) -> BackupSet:
    """Choose the backup to restore: ``label``, else the newest one that ends before ``target``."""
    usable = [s for s in sets if not s.error]
    if label:
        found = [s for s in usable if s.label == label]
        if not found:
            known = ", ".join(s.label for s in usable[-5:]) or "none"
            raise ParamError("backup_set", f"{label} is not in the repository (latest: {known})")
        backup = found[0]
        if target is not None and target < consistent_at(backup):
            raise ParamError(
                "target_time",
                f"{fmt(target)} is before {label} is consistent ({fmt(consistent_at(backup))}): "
                "choose an older backup set or a later time",
            )
        return backup
    if target is None:
        return usable[-1]
    before = [s for s in usable if consistent_at(s) <= target]
    if not before:
        raise ParamError(
            "target_time", f"{fmt(target)} is before the oldest backup ends ({fmt(consistent_at(usable[0]))})"
        )
    return before[-1]


def check_target(target: datetime, window: Window, now: datetime) -> str | None:
    """Refuse a target outside the window (future, before the oldest backup); return a note for the report.

    A target after the newest archived WAL but not in the future is accepted with a note: its commits are in
    the primary's current WAL segment, which the live run archives first (:func:`pitr.archive_now`).
    """
    if target > now:
        raise ParamError(
            "target_time", f"{fmt(target)} is in the future (now {fmt(now)}); {window.describe()}"
        )
    if target < window.start:
        raise ParamError(
            "target_time", f"{fmt(target)} is before the oldest backup ends; {window.describe()}"
        )
    if target > window.end:
        return (
            f"{fmt(target)} is after the newest archived WAL ({fmt(window.end)}): the primary's current WAL "
            "is archived before the restore"
        )
    return None
