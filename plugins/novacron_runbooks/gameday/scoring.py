"""Score one scenario's observation: detected, runbook started, resolved, and each time against its target.

Pure functions of what the observation recorded, so the verdicts can be tested without a sandbox. A scenario
passes only when every stage happened and in time; the first stage that did not is named as its gap, which
is what a game day exists to find.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Observation:
    """What the game day saw after injecting one fault (times as ISO 8601 strings, UTC)."""

    scenario: str
    alert: str
    runbook: str
    fault_at: str
    detect_target_seconds: float
    resolve_target_seconds: float
    fired_at: str | None = None
    run_id: str | None = None
    run_started_at: str | None = None
    run_state: str | None = None
    run_ended_at: str | None = None
    resolved_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Observation:
        return cls(**raw)


@dataclass(frozen=True)
class Score:
    """The verdict on one scenario; ``gap`` names the first stage that failed, ``None`` when it passed."""

    scenario: str
    alert: str
    runbook: str
    detected: bool
    detect_seconds: float | None
    detect_target_seconds: float
    runbook_started: bool
    run_state: str | None
    resolved: bool
    resolve_seconds: float | None
    resolve_target_seconds: float
    gap: str | None

    @property
    def passed(self) -> bool:
        return self.gap is None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _seconds(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def _gap(obs: Observation, detect: float | None, resolve: float | None) -> str | None:
    """Name the first stage that failed or overran, in the order an incident goes through them."""
    if detect is None:
        return f"{obs.alert} did not fire"
    if detect > obs.detect_target_seconds:
        return f"{obs.alert} fired after {detect:.0f}s, over its {obs.detect_target_seconds:.0f}s"
    if obs.run_id is None:
        return f"{obs.alert} fired but no {obs.runbook} run was started for it"
    if obs.run_state != "success":
        late = f"it was still {obs.run_state} at the response time"
        ended = "it ended failed" if obs.run_state == "failed" else late
        return f"{obs.runbook} run {obs.run_id} did not resolve the fault: {ended}"
    if obs.resolved_at is None:
        return f"{obs.runbook} run {obs.run_id} succeeded but {obs.alert} kept firing"
    if resolve is None or resolve > obs.resolve_target_seconds:
        return f"resolved after {resolve}s, over the {obs.resolve_target_seconds:.0f}s response time"
    return None


def score(obs: Observation) -> Score:
    """Score an observation: detection from the fault, resolution from the alert firing."""
    detect = _seconds(obs.fault_at, obs.fired_at)
    resolve = _seconds(obs.fired_at, obs.resolved_at) if obs.fired_at else None
    gap = _gap(obs, detect, resolve)
    return Score(
        scenario=obs.scenario,
        alert=obs.alert,
        runbook=obs.runbook,
        detected=detect is not None,
        detect_seconds=detect,
        detect_target_seconds=obs.detect_target_seconds,
        runbook_started=obs.run_id is not None,
        run_state=obs.run_state,
        resolved=obs.run_state == "success" and resolve is not None,
        resolve_seconds=resolve,
        resolve_target_seconds=obs.resolve_target_seconds,
        gap=gap,
    )


def summary(scores: list[Score]) -> dict[str, Any]:
    """Count what passed; the game day fails when any scenario has a gap."""
    return {
        "scenarios": len(scores),
        "passed": sum(s.passed for s in scores),
        "gaps": {s.scenario: s.gap for s in scores if s.gap},
    }
