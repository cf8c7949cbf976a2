"""Read ``pg_stat_activity`` once and turn it into sessions and the blocking tree.

One snapshot serves the diagnosis, the plan and the report, so what a person approves is what was seen.
``pg_blocking_pids`` gives, per waiting session, the sessions holding (or queued ahead for) the lock it
waits on; the tree's roots are the sessions that block others while waiting on nobody.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

SESSIONS = """
SELECT pid, usename, application_name, coalesce(client_addr::text, 'local'), state,
       coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(query, 300),
       backend_start::text, coalesce(query_start::text, ''),
       coalesce(extract(epoch FROM clock_timestamp() - query_start), 0)::float8,
       coalesce(extract(epoch FROM clock_timestamp() - state_change), 0)::float8,
       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8,
       pg_blocking_pids(pid)
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY pid
"""


@dataclass(frozen=True)
class Session:
    """One client backend as seen at the snapshot; ``backend_start`` and ``query_start`` identify it."""

    pid: int
    user: str
    application: str
    client: str
    state: str
    wait_event_type: str
    wait_event: str
    query: str
    backend_start: str
    query_start: str
    query_seconds: float
    state_seconds: float
    transaction_seconds: float
    blocked_by: tuple[int, ...] = field(default_factory=tuple)

    @property
    def waiting_on_lock(self) -> bool:
        return self.wait_event_type == "Lock"

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["blocked_by"] = list(self.blocked_by)
        for key in ("query_seconds", "state_seconds", "transaction_seconds"):
            data[key] = round(data[key], 1)
        return data


def read_sessions(conn: psycopg.Connection[Any]) -> list[Session]:
    """Client sessions of the current database, except our own."""
    rows = conn.execute(SESSIONS).fetchall()
    return [
        Session(
            pid=int(r[0]),
            user=str(r[1] or ""),
            application=str(r[2] or ""),
            client=str(r[3]),
            state=str(r[4] or ""),
            wait_event_type=str(r[5]),
            wait_event=str(r[6]),
            query=str(r[7] or ""),
            backend_start=str(r[8]),
            query_start=str(r[9]),
            query_seconds=float(r[10]),
            state_seconds=float(r[11]),
            transaction_seconds=float(r[12]),
            blocked_by=tuple(int(p) for p in (r[13] or ())),
        )
        for r in rows
    ]


def blockers(sessions: list[Session]) -> dict[int, list[int]]:
    """Map each blocking pid to the pids it blocks directly."""
    tree: dict[int, list[int]] = {}
    for session in sessions:
        for pid in session.blocked_by:
            tree.setdefault(pid, []).append(session.pid)
    return tree


def blocking_roots(sessions: list[Session]) -> list[int]:
    """Sessions that block others and wait on nobody: cancelling one of them releases its whole subtree."""
    tree = blockers(sessions)
    waiting = {s.pid for s in sessions if s.blocked_by}
    return sorted(pid for pid in tree if pid not in waiting)


def render_tree(sessions: list[Session]) -> list[str]:
    """Render the blocking tree as indented lines, roots first (each pid shown once, cycles cut)."""
    by_pid = {s.pid: s for s in sessions}
    tree = blockers(sessions)
    lines: list[str] = []

    def describe(pid: int) -> str:
        found = by_pid.get(pid)
        if found is None:
            return f"pid {pid} (another database or a background process)"
        age = found.query_seconds if found.state == "active" else found.state_seconds
        return f"pid {pid} {found.user} [{found.state}, {age:.0f} s] {found.query[:80]!r}"

    def walk(pid: int, depth: int, seen: set[int]) -> None:
        lines.append("  " * depth + ("└─ " if depth else "") + describe(pid))
        for child in tree.get(pid, []):
            if child not in seen:
                seen.add(child)
                walk(child, depth + 1, seen)

    for root in blocking_roots(sessions):
        walk(root, 0, {root})
    return lines
