"""Fault switches of the stand-in, persisted in the state folder.

A drill flips a switch from another process (``POST /_sandbox/faults``); keeping the switches in a file means
a restarted stand-in comes back in the same failing state, as a real broken dependency would.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

FAULTS_FILE = "faults.json"


@dataclass
class Faults:
    """The switches; all off by default."""

    error_rate: float = 0.0
    latency_ms: int = 0
    down: bool = False
    db_pool_pressure: float = 0.0
    dwcp_degraded: bool = False
    cpu_load: float = 0.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (``{"clear": true}`` resets first); raise ValueError on bad input."""
        if not isinstance(changes, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name: f.type for f in fields(self)}
        unknown = set(changes) - set(known) - {"clear"}
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        staged = Faults() if changes.get("clear") else Faults(**asdict(self))
        for name, value in changes.items():
            if name == "clear":
                continue
            if name in ("down", "dwcp_degraded"):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif name == "latency_ms":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60000:
                    raise ValueError("latency_ms must be an integer between 0 and 60000")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
            setattr(
                staged, name, float(value) if name not in ("down", "dwcp_degraded", "latency_ms") else value
            )
        for f in fields(self):
            setattr(self, f.name, getattr(staged, f.name))

    def as_dict(self) -> dict[str, Any]:
        """Return the switches as JSON-ready data."""
        return asdict(self)

    def save(self, state_dir: Path) -> None:
        """Write atomically, so a reader never sees half a file."""
        tmp = state_dir / f"{FAULTS_FILE}.tmp"
        tmp.write_text(json.dumps(self.as_dict(), indent=1))
        os.replace(tmp, state_dir / FAULTS_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> Faults:
        """Read the saved switches, or all off when there are none."""
        path = state_dir / FAULTS_FILE
        faults = cls()
        if path.exists():
            faults.update(json.loads(path.read_text()))
        return faults
