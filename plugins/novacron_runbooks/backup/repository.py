"""Read a pgBackRest repository: backup sets from ``info``, verify results, and the retention plan.

``pgbackrest verify`` (2.45) exits 0 even when it finds an invalid backup; its verdicts are only in the text
output. :func:`parse_verify` reads them and :func:`verified` fails closed: a backup counts as verified only
when its own result says ``valid``, every backup it references (its full, for a diff or incr) says ``valid``,
and no archive shows missing or invalid WAL. Anything verify did not mention is not verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

BACKUP_TYPES = ("full", "diff", "incr")
_BACKUP_LINE = re.compile(r"^\s*backup: (?P<label>\S+), status: (?P<status>[a-z]+)")
_ARCHIVE_LINE = re.compile(r"^\s*archiveId: (?P<id>\S+),")
_COUNTS_LINE = re.compile(
    r"missing: (?P<missing>\d+), checksum invalid: (?P<checksum>\d+), size invalid: (?P<size>\d+), "
    r"other: (?P<other>\d+)"
)


@dataclass(frozen=True)
class BackupSet:
    """One backup of ``pgbackrest info``: what the report and the metrics say about it."""

    label: str
    type: str
    started_at: int
    stopped_at: int
    size_bytes: int
    repository_bytes: int
    wal_start: str
    wal_stop: str
    references: tuple[str, ...]
    annotation: dict[str, str] = field(default_factory=dict)
    error: bool = False

    @property
    def duration_seconds(self) -> int:
        return self.stopped_at - self.started_at

    @classmethod
    def from_info(cls, raw: dict[str, Any]) -> BackupSet:
        return cls(
            label=str(raw["label"]),
            type=str(raw["type"]),
            started_at=int(raw["timestamp"]["start"]),
            stopped_at=int(raw["timestamp"]["stop"]),
            size_bytes=int(raw["info"]["size"]),
            repository_bytes=int(raw["info"]["repository"]["delta"]),
            wal_start=str((raw.get("archive") or {}).get("start") or ""),
            wal_stop=str((raw.get("archive") or {}).get("stop") or ""),
            references=tuple(raw.get("reference") or ()),
            annotation={str(k): str(v) for k, v in (raw.get("annotation") or {}).items()},
            error=bool(raw.get("error", False)),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "type": self.type,
            "size_bytes": self.size_bytes,
            "repository_bytes": self.repository_bytes,
            "duration_seconds": self.duration_seconds,
            "stopped_at": self.stopped_at,
            "wal_start": self.wal_start,
            "wal_stop": self.wal_stop,
        }


def backup_sets(info: dict[str, Any]) -> list[BackupSet]:
    """Backups of the stanza, oldest first (pgBackRest's own order)."""
    return [BackupSet.from_info(raw) for raw in info.get("backup") or []]


def newest_archived_segment(info: dict[str, Any]) -> tuple[str, str] | None:
    """``(archive id, newest WAL segment)`` of the current database, or ``None`` when none was archived."""
    archives = [a for a in info.get("archive") or [] if a.get("max")]
    if not archives:
        return None
    newest = archives[-1]
    return str(newest["id"]), str(newest["max"])


@dataclass
class VerifyResult:
    """What ``pgbackrest verify --output=text --verbose`` said, per backup and per archive."""

    status: str
    backups: dict[str, str]
    archive_problems: dict[str, int]
    output: str


def parse_verify(output: str) -> VerifyResult:
    status = "unknown"
    backups: dict[str, str] = {}
    problems: dict[str, int] = {}
    archive: str | None = None
    for line in output.splitlines():
        if line.startswith("status: "):
            status = line.removeprefix("status: ").strip()
        elif match := _ARCHIVE_LINE.match(line):
            archive = match["id"]
        elif match := _BACKUP_LINE.match(line):
            backups[match["label"]] = match["status"]
            archive = None
        elif (match := _COUNTS_LINE.search(line)) and archive is not None:
            problems[archive] = sum(int(match[key]) for key in ("missing", "checksum", "size", "other"))
    return VerifyResult(status, backups, problems, output)


def verified(result: VerifyResult, backup: BackupSet) -> tuple[bool, str]:
    """Whether ``backup`` passed verify (fail closed), and why not."""
    for label in (backup.label, *backup.references):
        found = result.backups.get(label)
        if found != "valid":
            return False, f"backup {label}: {found or 'not checked by verify'}"
    bad = {archive: count for archive, count in result.archive_problems.items() if count}
    if bad:
        return False, f"WAL archive problems: {bad}"
    if not result.archive_problems:
        return False, "verify checked no WAL archive"
    return True, f"{backup.label} and its {len(backup.references)} reference(s) valid, WAL archive clean"


def retention_plan(sets: list[BackupSet], keep_full: int) -> list[str]:
    """Labels that expire when keeping the newest ``keep_full`` full backups (and what depends on them).

    pgBackRest's count-based rule: a diff or incr expires with the full backup it depends on.
    """
    fulls = [s.label for s in sets if s.type == "full"]
    expiring_fulls = set(fulls[: max(len(fulls) - keep_full, 0)])
    expiring = []
    for backup in sets:
        own_full = backup.label if backup.type == "full" else backup.label.split("_", 1)[0]
        if own_full in expiring_fulls:
            expiring.append(backup.label)
    return expiring
