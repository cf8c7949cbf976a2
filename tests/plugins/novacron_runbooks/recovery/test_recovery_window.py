"""The recoverability window and the checks of a restore request, without a repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from novacron_runbooks.backup.repository import BackupSet
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.recovery.diff import Table, repair_order
from novacron_runbooks.recovery.pitr import RecoveryPoint, rpo_seconds
from novacron_runbooks.recovery.window import (
    check_target,
    choose_backup,
    parse_target_time,
    window_from,
)

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def backup(label: str, start: datetime, minutes: int = 2, error: bool = False) -> BackupSet:
    stop = start + timedelta(minutes=minutes)
    return BackupSet(
        label, "full", int(start.timestamp()), int(stop.timestamp()), 1, 1, "", "", (), {}, error
    )


SETS = [
    backup("20261127-010000F", T0),
    backup("20261127-020000F", T0 + timedelta(hours=1)),
    backup("20261127-030000F", T0 + timedelta(hours=2), error=True),
]
ARCHIVED = T0 + timedelta(hours=3)
WINDOW = window_from(SETS, ARCHIVED)


def test_window_runs_from_the_oldest_backups_consistent_point_to_the_newest_archived_wal():
    assert WINDOW is not None
    assert WINDOW.start == T0 + timedelta(minutes=2, seconds=1)
    assert WINDOW.end == ARCHIVED
    assert (WINDOW.oldest_backup, WINDOW.newest_backup) == ("20261127-010000F", "20261127-020000F")
    assert window_from([], ARCHIVED) is None
    assert window_from([SETS[2]], ARCHIVED) is None, "a backup marked in error restores nothing"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "is not an ISO-8601 time"),
        ("2026-13-01T00:00:00Z", "is not an ISO-8601 time"),
        ("2026-11-27T01:30:00", "has no time zone"),
    ],
)
def test_a_malformed_target_time_is_refused_naming_the_field(text, message):
    with pytest.raises(ParamError, match=message) as caught:
        parse_target_time(text)
    assert caught.value.field == "target_time"


def test_target_times_parse_to_utc_and_empty_means_none():
    assert parse_target_time("") is None
    assert parse_target_time("2026-11-27T02:30:00+01:00") == T0 + timedelta(minutes=30)
    assert parse_target_time("2026-11-27T01:30:00.25Z") == T0 + timedelta(minutes=30, milliseconds=250)


def test_targets_outside_the_window_are_refused_with_the_window_in_the_message():
    assert WINDOW is not None
    now = ARCHIVED + timedelta(minutes=5)
    with pytest.raises(ParamError, match=r"in the future.*recoverability window 2026-11-27 01:02:01 UTC"):
        check_target(now + timedelta(seconds=1), WINDOW, now)
    with pytest.raises(ParamError, match="before the oldest backup ends; recoverability window"):
        check_target(T0 + timedelta(minutes=1), WINDOW, now)
    assert check_target(T0 + timedelta(minutes=30), WINDOW, now) is None
    note = check_target(ARCHIVED + timedelta(minutes=1), WINDOW, now)
    assert note is not None and "current WAL is archived before the restore" in note


def test_the_backup_set_is_checked_and_otherwise_chosen_by_the_target():
    assert choose_backup(SETS, "", None).label == "20261127-020000F"
    assert choose_backup(SETS, "", T0 + timedelta(minutes=30)).label == "20261127-010000F"
    assert choose_backup(SETS, "", T0 + timedelta(hours=1, minutes=30)).label == "20261127-020000F"
    with pytest.raises(ParamError, match="20200101-000000F is not in the repository") as caught:
        choose_backup(SETS, "20200101-000000F", None)
    assert caught.value.field == "backup_set"
    with pytest.raises(ParamError, match="before 20261127-020000F is consistent") as caught:
        choose_backup(SETS, "20261127-020000F", T0 + timedelta(minutes=30))
    assert caught.value.field == "target_time"


def test_rpo_is_zero_for_a_backup_end_and_the_gap_to_the_archive_for_a_time():
    assert WINDOW is not None
    assert rpo_seconds(RecoveryPoint("20261127-010000F"), WINDOW) == 0.0
    point = RecoveryPoint("20261127-010000F", ARCHIVED - timedelta(seconds=90))
    assert rpo_seconds(point, WINDOW) == 90.0
    assert RecoveryPoint.from_json(point.to_json()) == point


def test_repairs_write_parents_before_children():
    hosts = Table("public", "hosts", ("id",))
    vms = Table("public", "vms", ("id",), ("public.hosts",))
    migrations = Table("public", "migrations", ("id",), ("public.vms", "public.hosts"))
    ordered = repair_order([migrations, vms, hosts])
    assert [t.name for t in ordered] == ["hosts", "vms", "migrations"]
