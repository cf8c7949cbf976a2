"""The decisions of a database failover, kept apart from the actions so they can be tested on their own.

Two judgements decide a failover, and both fail closed:

- **Is the primary lost?** Only when every signal agrees: no connection, Prometheus's ``pg_up`` for it at 0
  or absent (a Prometheus that cannot be asked proves nothing), and no replica still streaming from it. Any
  doubt refuses the failover: promoting beside a live primary makes two primaries.
- **Promote or restore?** Promote the replica when it is healthy and has replayed all WAL it can get: what it
  received by streaming, and what the repository's archive holds (its ``restore_command`` fetches that once
  streaming stops). A restore cannot recover more than that, so it is chosen only when the replica is missing
  WAL the archive has, or is not usable.

WAL positions are compared as LSNs; the archive's newest segment is complete by definition (PostgreSQL
archives a segment only once it is full or switched), so covering it means reaching the end of that segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_LAST_TRANSACTION = re.compile(r"last completed transaction was at log time (\S+ \S+)")


def parse_lsn(text: str) -> int:
    """``16/B374D848`` as a byte position."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def segment_end(name: str, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> int:
    """Return the LSN where WAL segment ``name`` (``TTTTTTTTXXXXXXXXYYYYYYYY``) ends."""
    found = _SEGMENT.match(name.upper())
    if found is None:
        raise ValueError(f"{name!r} is not a WAL segment name")
    per_id = 0x100000000 // segment_bytes
    number = int(found.group(2), 16) * per_id + int(found.group(3), 16)
    return (number + 1) * segment_bytes


def newest_archived_end(info: dict[str, Any], segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> int | None:
    """Return the end LSN of the newest WAL segment in the repository (``pgbackrest info`` of the stanza)."""
    ends = [
        segment_end(str(entry["max"]), segment_bytes)
        for entry in info.get("archive") or []
        if entry.get("max")
    ]
    return max(ends) if ends else None


def last_transaction_in_log(text: str) -> str | None:
    """Return the time PostgreSQL logs for the last transaction it replayed when recovery ended, if it did."""
    found = _LAST_TRANSACTION.findall(text)
    return found[-1] if found else None


@dataclass(frozen=True)
class LossSignals:
    """What was observed about the node believed lost.

    :param connects: the node answered on its address (it is not lost).
    :param pg_up: ``pg_up`` from Prometheus, ``None`` when the series is absent.
    :param prometheus_error: why Prometheus could not be asked, if it could not.
    :param streaming_replicas: replicas whose WAL receiver still streams.
    :param host: what the node's host said of its postmaster over SSH: ``"stopped"``, ``"running"``, or
        why the host could not be asked. Only ``"stopped"`` proves the loss: an unreachable host may
        still run a primary that only the network hides.
    """

    connects: bool
    pg_up: float | None
    prometheus_error: str | None
    streaming_replicas: list[str] = field(default_factory=list)
    host: str = "not asked"


def unproven_loss(signals: LossSignals) -> list[str]:
    """Return why the loss is not proven; an empty list means every signal says the primary is lost."""
    doubts = []
    if signals.connects:
        doubts.append("it still answers on its socket")
    if signals.prometheus_error is not None:
        doubts.append(f"Prometheus cannot be asked ({signals.prometheus_error})")
    elif signals.pg_up is not None and signals.pg_up != 0:
        doubts.append(f"Prometheus still sees it up (pg_up {signals.pg_up:g})")
    if signals.streaming_replicas:
        doubts.append("replicas still stream from it: " + ", ".join(signals.streaming_replicas))
    if signals.host == "running":
        doubts.append("its host says its postmaster still runs")
    elif signals.host != "stopped":
        doubts.append(f"its host cannot say its postmaster stopped ({signals.host})")
    return doubts


@dataclass(frozen=True)
class ReplicaState:
    """A replica's position once streaming has stopped.

    :param receive_lsn: the end of the WAL it received by streaming (``None`` when it never streamed).
    :param replay_lsn: the end of the WAL it has replayed.
    :param last_replayed_at: the commit time of the last transaction it replayed.
    """

    name: str
    receive_lsn: int | None
    replay_lsn: int
    last_replayed_at: datetime | None


@dataclass(frozen=True)
class Decision:
    """Promote or restore, why, and the WAL the replica lacks (bytes)."""

    path: str
    reasons: list[str]
    missing_bytes: int


def unreplayed_bytes(state: ReplicaState, archived_end: int | None) -> int:
    """Bytes of WAL the replica has not replayed: received but unreplayed, or archived beyond it."""
    missing = 0
    if state.receive_lsn is not None:
        missing = max(missing, state.receive_lsn - state.replay_lsn)
    if archived_end is not None:
        missing = max(missing, archived_end - state.replay_lsn)
    return missing


def rpo_estimate_seconds(lost_at: datetime, last_recovered_at: datetime | None) -> float | None:
    """Bound the data lost from above: from the last transaction recovered to the loss of the primary.

    It is a bound, not a measure: on a primary that wrote nothing for a while it counts the quiet time too.
    """
    if last_recovered_at is None:
        return None
    return max(0.0, (lost_at - last_recovered_at).total_seconds())


def decide(
    state: ReplicaState | None, archived_end: int | None, rpo_estimate: float | None, rpo_limit: float
) -> Decision:
    """Promote when the replica is usable, has every WAL byte it can get, and its lag is within the RPO."""
    if state is None:
        return Decision("restore", ["no healthy replica to promote"], 0)
    missing = unreplayed_bytes(state, archived_end)
    reasons = []
    if missing:
        reasons.append(f"{state.name} lacks {missing} bytes of WAL it received or the archive holds")
    if rpo_estimate is not None and rpo_estimate > rpo_limit and missing:
        reasons.append(f"its lag ({rpo_estimate:.0f} s) is over the {rpo_limit:.0f} s RPO")
    if reasons:
        return Decision("restore", reasons, missing)
    why = f"{state.name} has replayed all WAL it received and all the archive holds"
    if rpo_estimate is not None and rpo_estimate > rpo_limit:
        why += (
            f"; its last transaction is {rpo_estimate:.0f} s before the loss, over the RPO, but a restore "
            "cannot recover more than the archive it already holds"
        )
    return Decision("promote", [why], 0)
