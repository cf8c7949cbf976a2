"""What a run report holds, independent of how it is rendered or stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAILED_STATES = {"failed", "upstream_failed"}
_APPROVAL_DECISIONS = {"Roll back": "rollback", "Hold": "hold", "Reject": "rejected", "Abort": "rejected"}


@dataclass(frozen=True)
class StepResult:
    """One task of the run: its terminal state and the evidence it left (if it ran)."""

    task_id: str
    state: str
    operator: str = ""
    duration_seconds: float | None = None
    evidence: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    @property
    def error(self) -> str | None:
        return None if self.evidence is None else self.evidence.get("error")


@dataclass(frozen=True)
class Approval:
    task_id: str
    chosen: list[str]
    by: str
    at: str


@dataclass(frozen=True)
class TargetCheck:
    """A measured figure against the catalog's target (RTO, RPO, time to recover)."""

    name: str
    measured_seconds: float
    target_seconds: float | None

    @property
    def met(self) -> bool | None:
        return None if self.target_seconds is None else self.measured_seconds <= self.target_seconds


@dataclass(frozen=True)
class RunReport:
    """Everything the report says about one run."""

    dag_id: str
    run_id: str
    title: str
    run_type: str
    triggered_by: str
    started_at: str
    finished_at: str
    params: dict[str, Any]
    steps: list[StepResult]
    approvals: list[Approval] = field(default_factory=list)
    targets: list[TargetCheck] = field(default_factory=list)
    dry_run: bool = False
    duration_seconds: float | None = None

    @property
    def failed_steps(self) -> list[StepResult]:
        return [step for step in self.steps if step.failed]

    @property
    def decisions(self) -> list[str]:
        """What gates and people decided for the run (``rollback``, ``freeze``, ``hold``, ...)."""
        found = [str(s.evidence["verdict"]) for s in self.steps if s.evidence and s.evidence.get("verdict")]
        found += [
            _APPROVAL_DECISIONS[c] for a in self.approvals for c in a.chosen if c in _APPROVAL_DECISIONS
        ]
        return found

    @property
    def outcome(self) -> str:
        if self.failed_steps:
            return "failed"
        if "rollback" in self.decisions:
            return "rolled-back"
        if "rejected" in self.decisions:
            return "rejected"
        if any(check.met is False for check in self.targets):
            return "missed-target"
        return "dry-run" if self.dry_run else "success"

    @property
    def succeeded(self) -> bool:
        return self.outcome in {"success", "dry-run"}
