"""Findings of the read-only diagnostics runbooks: what a person should know, how bad, what to run next.

Each diagnostics step returns its findings; the last step, :func:`summarize`, pulls them (a step that failed
left none, and says so as a finding of its own), orders them by severity and names the runbook to run next.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from airflow.sdk import get_current_context

from novacron_runbooks.dagkit.evidence import current_evidence

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """Something a person should know, how bad it is, and what to run about it."""

    severity: Severity
    title: str
    detail: str
    next_runbook: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def next_runbook(findings: list[Finding]) -> str | None:
    """Return the runbook of the most severe finding that names one."""
    return next((f.next_runbook for f in ordered(findings) if f.next_runbook), None)


def summarize(readers: tuple[str, ...]) -> dict[str, Any]:
    """Collect the readers' findings into the report, most severe first, and name the runbook to run next."""
    evidence = current_evidence()
    ti = get_current_context()["ti"]
    groups = [ti.xcom_pull(task_ids=task) for task in readers]  # pulled: a failed reader left no value
    found = [Finding(**raw) for group in groups for raw in group or []]
    found += [
        Finding("warning", f"{task} failed", "its part of the report is missing")
        for task, group in zip(readers, groups, strict=True)
        if group is None
    ]
    found = ordered(found)
    for finding in found:
        evidence.measure(
            f"finding: {finding.title}",
            finding.detail + (f" → run {finding.next_runbook}" if finding.next_runbook else ""),
            "fail" if finding.severity != "info" else "pass",
            severity=finding.severity,
        )
    upcoming = next_runbook(found)
    evidence.note(f"run next: {upcoming}" if upcoming else "no finding calls for another runbook")
    return {"findings": [f.to_dict() for f in found], "next_runbook": upcoming}
