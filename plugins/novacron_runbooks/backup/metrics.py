"""Push the backup runbooks' results to the Pushgateway under the names of :mod:`alerts.contract`.

Each backup type is its own group (``job="novacron_backup", type="<type>"``), so an hourly incremental never
overwrites what the daily full published; the WAL and validation gauges describe no one backup and sit in the
job's own group. Pushes replace only the metric names they carry. The verified time is pushed by a separate
call, only after ``verify`` passed: a failed verification leaves the previous verified time in place, and
the BackupTooOld rule keeps counting from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.alerts import contract

if TYPE_CHECKING:
    from novacron_runbooks.backup.repository import BackupSet
    from novacron_runbooks.hooks.pushgateway import PushgatewayHook


def publish_backup(hook: PushgatewayHook, backup: BackupSet, wal_archived_at: float | None) -> list[str]:
    """Success time, size, repository bytes and duration of a finished backup; the newest archived WAL."""
    gauges = {
        contract.BACKUP_LAST_SUCCESS: (
            "Unix time the newest successful backup of this type finished.",
            backup.stopped_at,
        ),
        contract.BACKUP_SIZE_BYTES: (
            "Database size the newest backup of this type covers.",
            backup.size_bytes,
        ),
        contract.BACKUP_REPOSITORY_BYTES: (
            "Bytes the newest backup of this type added to the repository.",
            backup.repository_bytes,
        ),
        contract.BACKUP_DURATION_SECONDS: (
            "pgBackRest time of the newest backup of this type.",
            backup.duration_seconds,
        ),
    }
    hook.push(contract.PUSH_JOB, gauges, {"type": backup.type})
    names = sorted(gauges)
    if wal_archived_at is not None:
        wal = {
            contract.WAL_LAST_ARCHIVED: (
                "Unix time the repository received its newest WAL segment.",
                wal_archived_at,
            )
        }
        hook.push(contract.PUSH_JOB, wal)
        names.append(contract.WAL_LAST_ARCHIVED)
    return names


def publish_verified(hook: PushgatewayHook, backup: BackupSet) -> str:
    """Publish the verified time of a backup that passed ``verify`` (its finish time)."""
    gauges = {
        contract.BACKUP_LAST_VERIFIED: (
            "Unix time the newest backup of this type that passed verification finished.",
            backup.stopped_at,
        )
    }
    hook.push(contract.PUSH_JOB, gauges, {"type": backup.type})
    return contract.BACKUP_LAST_VERIFIED


def publish_validation(
    hook: PushgatewayHook, passed: bool, at: float, restore_seconds: float | None
) -> list[str]:
    """Publish the test restore's outcome, when it last passed, and the measured restore time."""
    gauges: dict[str, tuple[str, float]] = {
        contract.VALIDATION_PASSED: (
            "1 when the last test restore passed every check, else 0.",
            1.0 if passed else 0.0,
        )
    }
    if passed:
        gauges[contract.VALIDATION_LAST_SUCCESS] = ("Unix time of the last test restore that passed.", at)
    if restore_seconds is not None:
        gauges[contract.VALIDATION_RESTORE_SECONDS] = (
            "Seconds from restore start to a writable scratch database, last test restore.",
            restore_seconds,
        )
    hook.push(contract.PUSH_JOB, gauges)
    return sorted(gauges)
