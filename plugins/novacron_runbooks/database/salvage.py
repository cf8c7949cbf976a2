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

The two nodes are on different hosts: segments travel from the lost host to the replica's over SFTP, through
the worker, and land under a temporary name that is renamed into place. The lost host's sshd must answer:
the machine lived, only the postmaster died.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from novacron_runbooks.hooks.node import copy_between

if TYPE_CHECKING:
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
    source_host, target_host = nodes.programs.host(lost), nodes.programs.host(replica)
    source = posixpath.join(lost.data_dir, "pg_wal")
    found = source_host.listing(source)
    if not found:
        return []
    with nodes.programs.connect(replica) as conn:
        row = conn.execute(
            "SELECT pg_size_bytes(current_setting('wal_segment_size')),"
            " coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn"
        ).fetchone()
    assert row is not None
    segment_bytes, position = int(row[0]), int(row[1])
    copied = []
    target = posixpath.join(replica.data_dir, "pg_wal")
    names = salvageable(list(found), position // segment_bytes, segment_bytes)
    # a segment recycled for later use keeps the time of its old contents: skip what is older than the first
    since = found[names[0]] if names else 0.0
    for name in names:
        if found[name] < since:
            continue
        # atomic: recovery sees the old file or the whole new one
        copy_between(source_host, posixpath.join(source, name), target_host, posixpath.join(target, name))
        copied.append(name)
    return copied


def held_folder(node: Node) -> str:
    return node.data_dir.rstrip("/") + ".wal-held"


def hold_wal(programs: Programs, node: Node) -> str:
    """Copy the node's WAL segments beside its folder, on its host, before a restore replaces them."""
    host = programs.host(node)
    held = held_folder(node)
    host.run(["mkdir", "-p", "-m", "0700", held], what=f"mkdir {held}")
    source = posixpath.join(node.data_dir, "pg_wal")
    kept = host.listing(held)
    names = sorted(n for n in host.listing(source) if _SEGMENT.match(n) and n not in kept)
    if names:  # -p keeps the time: recycled segments stay recognisable
        host.run(
            ["cp", "-p", *(posixpath.join(source, n) for n in names), held], what="hold WAL", timeout=900
        )
    return held


def return_wal(programs: Programs, node: Node, held: str) -> list[str]:
    """Put held segments the restored folder lacks into its ``pg_wal``, then drop the holding folder."""
    host = programs.host(node)
    target = posixpath.join(node.data_dir, "pg_wal")
    names = sorted(n for n in host.listing(held) if _SEGMENT.match(n))
    timeline = max((n[:8] for n in names), default="")
    present = host.listing(target)
    returned = [n for n in names if n[:8] == timeline and n not in present]
    if returned:
        host.run(
            ["cp", "-p", *(posixpath.join(held, n) for n in returned), target], what="return WAL", timeout=900
        )
    host.run(["rm", "-rf", "--", held], what=f"remove {held}")
    return returned
