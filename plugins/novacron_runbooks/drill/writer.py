"""A writer that commits numbered rows up to the fault, and the count of acknowledged rows lost after it.

The drill owns one small table, ``drill_writes``: each row is ``(drill, seq, committed_at)``, committed one by
one in autocommit, so a row is *acknowledged* exactly when its INSERT returned. What the writer knows at the
fault (the last acknowledged sequence number and its commit time) is what an application would have told its
users was saved; after recovery every acknowledged row must be back, and any that is not is data lost (RPO).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS drill_writes (
    drill        text        NOT NULL,
    seq          bigint      NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (drill, seq)
)
"""
INSERT = "INSERT INTO drill_writes (drill, seq) VALUES (%s, %s) RETURNING committed_at"
SURVIVORS = "SELECT seq, committed_at FROM drill_writes WHERE drill = %s AND seq <= %s ORDER BY seq"
INTERVAL_SECONDS = 0.05
"""About 20 commits a second: fine-grained enough to see a sub-second loss, light on a small primary."""


@dataclass(frozen=True)
class Ack:
    """One acknowledged commit: its sequence number, the server's clock in it, and when the writer got it.

    ``acked_at`` (after the INSERT returned) is what orders a write before or after a fault: a row whose
    acknowledgement arrived before the fault's transaction began was certainly committed before it.
    """

    seq: int
    committed_at: datetime
    acked_at: datetime


class Writer(threading.Thread):
    """Commit ``drill_writes`` rows until stopped or until a write fails (the fault reached the writer).

    :param connect: opens an autocommit connection to the primary.
    :param drill: this drill's key (run and scenario), so drills never count each other's rows.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], drill: str) -> None:
        super().__init__(daemon=True, name=f"drill-writer-{drill}")
        self.connect = connect
        self.drill = drill
        self.acks: list[Ack] = []
        self.error: str | None = None
        self.halt = threading.Event()

    @property
    def last_ack(self) -> Ack | None:
        return self.acks[-1] if self.acks else None

    def run(self) -> None:
        try:
            with self.connect() as conn:
                seq = 0
                while not self.halt.is_set():
                    seq += 1
                    row = conn.execute(INSERT, (self.drill, seq)).fetchone()
                    if row is None:
                        raise RuntimeError("INSERT ... RETURNING gave no row")
                    self.acks.append(Ack(seq, row[0], datetime.now(tz=UTC)))
                    time.sleep(INTERVAL_SECONDS)
        except Exception as exc:  # the fault itself: the first failed write ends the writer
            self.error = f"{type(exc).__name__}: {exc}".strip()

    def wait_for(self, count: int, timeout: float) -> None:
        """Block until ``count`` rows are acknowledged; fail when the writer cannot get there."""
        deadline = time.monotonic() + timeout
        while len(self.acks) < count:
            if self.error is not None or not self.is_alive():
                raise RuntimeError(f"the drill writer stopped before the fault: {self.error}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the drill writer acknowledged {len(self.acks)} of {count} rows in time")
            time.sleep(INTERVAL_SECONDS)

    def stop(self, timeout: float = 15.0) -> None:
        self.halt.set()
        self.join(timeout)


@dataclass(frozen=True)
class Loss:
    """Acknowledged rows missing after recovery, and the span of commit time they cover."""

    acknowledged: int
    lost: int
    lost_seconds: float
    first_lost_seq: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "lost_seconds": self.lost_seconds,
            "first_lost_seq": self.first_lost_seq,
        }


def measure_loss(acks: list[tuple[int, datetime]], survivors: dict[int, datetime]) -> Loss:
    """Compare the acknowledged rows with those found after recovery.

    ``lost_seconds`` is the window of acknowledged commits that is gone: from the newest surviving commit
    before the first lost row (the point the data was recovered to) to the last lost commit. No lost row
    gives 0; a loss that starts with the first row counts from that row's commit.
    """
    lost = [(seq, at) for seq, at in acks if seq not in survivors]
    if not lost:
        return Loss(len(acks), 0, 0.0, None)
    first = lost[0][0]
    kept_before = [at for seq, at in acks if seq < first and seq in survivors]
    start = max(kept_before) if kept_before else lost[0][1]
    span = (max(at for _, at in lost) - start).total_seconds()
    return Loss(len(acks), len(lost), round(max(span, 0.0), 3), first)


def survivors(conn: psycopg.Connection[Any], drill: str, last_seq: int) -> dict[int, datetime]:
    """Rows of ``drill`` up to ``last_seq`` present in the database now."""
    return {int(seq): at for seq, at in conn.execute(SURVIVORS, (drill, last_seq)).fetchall()}
