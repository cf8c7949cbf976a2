"""WAL the lost primary flushed but never sent: copied from its disk to the replica before promotion.

Streaming replication is asynchronous: a commit is acknowledged once it is in the primary's own WAL, and a
primary that dies a moment later may not have sent it. When the lost primary's disk can still be read (the
process died, the machine did not), those records are in its ``pg_wal``: copying its newest segments into
the replica's ``pg_wal`` lets the replica's recovery replay them (it reads ``pg_wal`` whenever streaming and
the archive have nothing more), so the promoted replica has every commit the old primary acknowledged.

Only segments from the one the replica is receiving onwards are copied, only of the lost primary's newest
timeline, and none older than that first one (segments recycled for later use keep their old time).
Recovery checks every record (page address, CRC), so stale bytes end replay cleanly instead of replaying
anything wrong. The lost node must be fenced first: nothing may write
its WAL while it is read.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from novacron_runbooks.database.nodes import DatabaseNodes
    from novacron_runbooks.database.postgres import Node, Programs

_SEGMENT = re.compile(r"^[0-9A-F]{24}$")


def segment_number(name: str, segment_bytes: int) -> int:
    """Return the position of segment ``name`` in the WAL stream, whatever its timeline."""
    return int(name[8:16], 16) * (0x100000000 // segment_bytes) + int(name[16:24], 16)


def salvageable(names: list[str], from_segment: int, segment_bytes: int) -> list[str]:
    """Return the newest timeline's segments among ``names`` from ``from_segment`` on, in WAL order."""
    segments = [n for n in names if _SEGMENT.match(n)]
    if not segments:
        return []
    timeline = max(n[:8] for n in segments)
    return sorted(
        n for n in segments if n[:8] == timeline and segment_number(n, segment_bytes) >= from_segment
    )


def salvage_wal(nodes: DatabaseNodes, lost: Node, replica: Node) -> list[str]:
    """Copy the lost primary's newest WAL segments into the replica's ``pg_wal``; returns the ones copied."""
    if nodes.running(lost) or not nodes.fenced(lost):
        raise RuntimeError(f"{lost.name} must be fenced and stopped before its WAL is read")
    source = lost.data_dir / "pg_wal"
    if not source.is_dir():
        return []
    with nodes.programs.connect(replica) as conn:
        row = conn.execute(
            "SELECT pg_size_bytes(current_setting('wal_segment_size')),"
            " coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn"
        ).fetchone()
    assert row is not None
    segment_bytes, position = int(row[0]), int(row[1])
    copied = []
    target = replica.data_dir / "pg_wal"
    names = salvageable(os.listdir(source), position // segment_bytes, segment_bytes)
    # a segment recycled for later use keeps the time of its old contents: skip what is older than the first
    since = (source / names[0]).stat().st_mtime if names else 0.0
    for name in names:
        if (source / name).stat().st_mtime < since:
            continue
        partial = target / f".{name}.salvage"
        shutil.copyfile(source / name, partial)
        nodes.programs.own(partial)
        partial.chmod(0o600)
        os.replace(partial, target / name)  # atomic: recovery sees the old file or the whole new one
        copied.append(name)
    return copied


def hold_wal(programs: Programs, node: Node) -> Path:
    """Copy the node's WAL segments beside its folder before a restore replaces them; returns where."""
    held = node.data_dir.with_name(node.data_dir.name + ".wal-held")
    held.mkdir(exist_ok=True)
    source = node.data_dir / "pg_wal"
    for name in os.listdir(source) if source.is_dir() else []:
        if _SEGMENT.match(name) and not (held / name).exists():
            shutil.copy2(source / name, held / name)  # keeps the time: recycled segments stay recognisable
    return held


def return_wal(programs: Programs, node: Node, held: Path) -> list[str]:
    """Put held segments the restored folder lacks into its ``pg_wal``, then drop the holding folder."""
    target = node.data_dir / "pg_wal"
    names = sorted(n for n in os.listdir(held) if _SEGMENT.match(n))
    timeline = max((n[:8] for n in names), default="")
    returned = []
    for name in names:
        if name[:8] == timeline and not (target / name).exists():
            shutil.copy2(held / name, target / name)
            programs.own(target / name)
            returned.append(name)
    shutil.rmtree(held)
    return returned
