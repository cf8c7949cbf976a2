"""Render a :class:`RunReport` as Markdown (for people) and JUnit XML (for CI callers).

In JUnit each step is a test case: a failed or upstream-failed step is a failure with its error, a skipped one
is skipped, and every missed RTO/RPO target is one more failing case, so a CI job fails on a missed objective.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novacron_runbooks.dagkit.report.model import RunReport, StepResult

_ICON = {"success": "✅", "failed": "❌", "upstream_failed": "⛔", "skipped": "⏭️"}


def _fmt_value(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text.replace("|", "\\|").replace("\n", " ")


def _step_lines(step: StepResult) -> list[str]:
    lines: list[str] = []
    evidence = step.evidence or {}
    for note in evidence.get("notes", []):
        lines.append(f"  - {_fmt_value(note)}")
    for change in evidence.get("changes", []):
        verb = "changed" if change.get("applied") else "would change (dry run)"
        lines.append(f"  - {verb}: {_fmt_value(change.get('target'))}: {_fmt_value(change.get('action'))}")
    for m in evidence.get("measurements", []):
        query = f" `{m['query']}`" if m.get("query") else ""
        lines.append(
            f"  - measured {m['name']} = {_fmt_value(m['value'])} → {m['verdict']}{query} at {m['at']}"
        )
    for attachment in evidence.get("attachments", []):
        lines.append(f"  - ![{_fmt_value(attachment['caption'])}]({attachment['path']})")
    if step.error:
        lines.append(f"  - error: {_fmt_value(step.error)}")
    return lines


def render_markdown(report: RunReport) -> str:
    """Render the human report: header, params, steps with timings and evidence, approvals, targets."""
    out = [
        f"# {report.title}: {report.outcome.upper()}",
        "",
        f"- Run: `{report.dag_id}` / `{report.run_id}` ({report.run_type})",
        f"- Triggered by: {report.triggered_by}",
        f"- Started: {report.started_at}; finished: {report.finished_at}",
        f"- Dry run: {'yes' if report.dry_run else 'no'}",
        "",
        "## Params",
        "",
        "| param | value |",
        "|---|---|",
        *[f"| {name} | {_fmt_value(value)} |" for name, value in sorted(report.params.items())],
        "",
        "## Steps",
        "",
        "| step | state | duration (s) |",
        "|---|---|---|",
    ]
    for step in report.steps:
        duration = "" if step.duration_seconds is None else f"{step.duration_seconds:.1f}"
        out.append(f"| {_ICON.get(step.state, '')} {step.task_id} | {step.state} | {duration} |")
    out.append("")
    for step in report.steps:
        details = _step_lines(step)
        if details:
            out += [f"**{step.task_id}**", "", *details, ""]
    if report.approvals:
        out += ["## Approvals", "", "| step | decision | by | at |", "|---|---|---|---|"]
        out += [f"| {a.task_id} | {', '.join(a.chosen)} | {a.by} | {a.at} |" for a in report.approvals]
        out.append("")
    if report.targets:
        out += ["## Objectives", "", "| objective | measured (s) | target (s) | met |", "|---|---|---|---|"]
        for check in report.targets:
            target = "" if check.target_seconds is None else f"{check.target_seconds:.0f}"
            met = {True: "yes", False: "NO", None: "n/a"}[check.met]
            out.append(f"| {check.name} | {check.measured_seconds:.1f} | {target} | {met} |")
        out.append("")
    return "\n".join(out)


def _junit_timestamp(started_at: str) -> str:
    """Return ISO 8601 in UTC with a ``T`` and no zone: what JUnit readers that check the schema want."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def render_junit(report: RunReport) -> str:
    """JUnit XML: one testsuite per run, one testcase per step and per objective."""
    import xml.etree.ElementTree as ET  # its C parser loads slowly: only the report task pays for it

    suite = ET.Element(
        "testsuite",
        name=report.dag_id,
        tests=str(len(report.steps) + len(report.targets)),
        failures=str(len(report.failed_steps) + sum(1 for t in report.targets if t.met is False)),
        skipped=str(sum(1 for s in report.steps if s.state == "skipped")),
        timestamp=_junit_timestamp(report.started_at),
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="run_id", value=report.run_id)
    for step in report.steps:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=report.dag_id,
            name=step.task_id,
            time=f"{step.duration_seconds or 0:.3f}",
        )
        if step.failed:
            failure = ET.SubElement(
                case, "failure", message=(step.error or step.state)[:500], type=step.state
            )
            failure.text = step.error or step.state
        elif step.state == "skipped":
            ET.SubElement(case, "skipped", message=(step.error or "skipped")[:500])
    for check in report.targets:
        case = ET.SubElement(suite, "testcase", classname=f"{report.dag_id}.objectives", name=check.name)
        if check.met is False:
            ET.SubElement(
                case,
                "failure",
                message=f"measured {check.measured_seconds:.1f}s exceeds target {check.target_seconds:.0f}s",
                type="objective",
            )
    return str(ET.tostring(suite, encoding="unicode", xml_declaration=True))


def render_json(report: RunReport) -> str:
    """Machine-readable report: what the review and effectiveness jobs read back."""
    data = dataclasses.asdict(report)
    data["outcome"] = report.outcome
    return json.dumps(data, default=str, indent=2, sort_keys=True)
