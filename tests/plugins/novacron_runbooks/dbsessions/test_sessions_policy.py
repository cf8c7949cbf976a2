"""The blocking tree and the remediation policy, on hand-made session snapshots."""

from __future__ import annotations

from novacron_runbooks.dbsessions.activity import Session, blocking_roots, render_tree
from novacron_runbooks.dbsessions.remedy import Thresholds, session_from, to_cancel, to_terminate

LIMITS = Thresholds(long_query_seconds=60, idle_in_transaction_seconds=120, stale_ratio=0.1)


def session(pid: int, state: str = "active", seconds: float = 1, blocked_by: tuple[int, ...] = ()) -> Session:
    return Session(
        pid, "app", "api", "127.0.0.1", state, "Lock" if blocked_by else "", "", f"q{pid}",
        "2026-11-27 10:00:00+00", "2026-11-27 10:01:00+00", seconds, seconds, seconds, blocked_by,
    )  # fmt: skip


def test_roots_are_blockers_that_wait_on_nobody_and_the_tree_nests_waiters():
    sessions = [session(1, seconds=90), session(2, blocked_by=(1,)), session(3, blocked_by=(2,)), session(4)]
    assert blocking_roots(sessions) == [1]
    lines = render_tree(sessions)
    assert [line.split(" [")[0].strip(" └─") for line in lines] == ["pid 1 app", "pid 2 app", "pid 3 app"]
    assert lines[2].startswith("    └─ pid 3")


def test_cancel_takes_long_active_statements_blockers_first_and_never_idle_ones():
    sessions = [
        session(5, seconds=300),
        session(6, seconds=70),
        session(7, seconds=65, blocked_by=(6,)),  # waits on 6 only: resumes once 6 is cancelled
        session(11, seconds=65, blocked_by=(7,)),  # further down the same chain
        session(8, state="idle in transaction", seconds=900),
        session(9, seconds=30),
    ]
    assert [s.pid for s in to_cancel(sessions, LIMITS)] == [6, 5]
    assert [s.pid for s in to_terminate(sessions, LIMITS)] == [8]


def test_a_session_survives_its_xcom_round_trip():
    original = session(10, blocked_by=(3, 4))
    assert session_from(original.summary()).blocked_by == (3, 4)
    assert session_from(original.summary()).pid == 10
