"""The run note as the incident's alert log: who started the run, repeat notifications, resolutions.

Airflow's DagRun note is shown on the run in the UI and returned by the REST API (``note``), so the incident
runbook and the person on call read the same record; it is bounded (1000 characters in Airflow's table), so
repeats are a counter, not one line each, and resolution lines beyond the room left are summarised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

MAX_NOTE = 1000
REPEATS = "Repeat notifications: "
MORE = "More resolved alerts: "


def started_note(alertname: str, severity: str, group_hash: str, decision: str, at: datetime) -> str:
    return (
        f"Started by Alertmanager at {at:%Y-%m-%dT%H:%M:%SZ}: {alertname} ({severity or 'no severity'}), "
        f"group {group_hash}. {decision}."
    )


def with_repeat(note: str | None, at: datetime) -> str:
    """Count one more notification of the group while this run is active."""
    lines = (note or "").splitlines()
    count = 0
    for line in lines:
        if line.startswith(REPEATS):
            count = int(line.removeprefix(REPEATS).split(" ", 1)[0])
    kept = [line for line in lines if not line.startswith(REPEATS)]
    kept.insert(1 if kept else 0, f"{REPEATS}{count + 1} (last {at:%Y-%m-%dT%H:%M:%SZ})")
    return _bounded(kept)


def with_resolved(note: str | None, alertname: str, fingerprint: str, ended: datetime | None) -> str:
    """Record one resolved alert of the group; the incident runbook reads these lines."""
    when = f"{ended:%Y-%m-%dT%H:%M:%SZ}" if ended else "unknown time"
    line = f"Resolved: {alertname} {fingerprint} at {when}"
    lines = (note or "").splitlines()
    if line in lines:
        return "\n".join(lines)
    return _bounded([*lines, line])


def _bounded(lines: list[str]) -> str:
    """Keep the note within Airflow's limit: drop the oldest resolution lines into a counter."""
    dropped = 0
    for line in lines:
        if line.startswith(MORE):
            dropped = int(line.removeprefix(MORE))
    lines = [line for line in lines if not line.startswith(MORE)]
    while len("\n".join(lines)) > MAX_NOTE - 40:
        resolved = [i for i, line in enumerate(lines) if line.startswith("Resolved: ")]
        if not resolved:
            lines[-1] = lines[-1][: max(0, MAX_NOTE - 40 - len("\n".join(lines[:-1])) - 1)]
            break
        del lines[resolved[0]]
        dropped += 1
    if dropped:
        lines.append(f"{MORE}{dropped}")
    return "\n".join(lines)[:MAX_NOTE]
