"""Render a runbook's page for the Airflow UI (``doc_md``) from the catalog.

The metadata table is generated, never hand-copied, so the page an SRE reads in the UI cannot drift from the
catalog that the gates and alert rules use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.catalog.model import Duration


def _text(duration: Duration | None) -> str | None:
    return None if duration is None else duration.text


def metadata_rows(runbook: Runbook) -> list[tuple[str, str]]:
    rows: list[tuple[str, str | None]] = [
        ("Category", runbook.category.replace("_", " ")),
        ("Purpose", runbook.purpose),
        ("When to use", runbook.when_to_use),
        ("Trigger", runbook.trigger_text),
        ("Alerts", ", ".join(runbook.trigger_alerts) or None),
        ("Severity", " / ".join(s.capitalize() for s in runbook.severity) or None),
        ("Response time", _text(runbook.response_time)),
        ("RTO", _text(runbook.rto)),
        ("RPO", None if runbook.rpo is None else runbook.rpo.text),
        ("Estimated time", _text(runbook.estimated_time)),
        ("Risk", runbook.risk_text),
        ("Scope", ", ".join(runbook.scope) or None),
        ("Frequency", runbook.frequency),
        ("Manual trigger", runbook.manual_trigger),
        ("Validation", runbook.validation),
        ("Scenarios", ", ".join(runbook.scenarios) or None),
        ("Tools", ", ".join(runbook.tools) or None),
        ("Owner", f"{runbook.owner.team} ({runbook.owner.slack_channel})"),
        (
            "Changes the platform",
            "yes, behind the lock on " + str(runbook.lock_target) if runbook.mutating else "no",
        ),
        ("Index page", runbook.index_entry),
        ("Last reviewed / next review", f"{runbook.review.last_reviewed} / {runbook.review.next_review}"),
    ]
    return [(key, value) for key, value in rows if value]


def escalation_lines(runbook: Runbook) -> list[str]:
    lines = []
    for rung in runbook.escalation:
        if rung.after_minutes is not None and rung.until_minutes is not None:
            when = f"{rung.after_minutes:g}–{rung.until_minutes:g} min"
        elif rung.after_minutes is not None:
            when = f"after {rung.after_minutes:g} min"
        else:
            when = rung.condition or ""
        if rung.condition and rung.after_minutes is not None:
            when += f" ({rung.condition})"
        lines.append(f"{rung.level}. {rung.role}: {when}")
    return lines


def render_doc_md(runbook: Runbook) -> str:
    """Markdown for the DAG's doc_md: title, metadata, steps, escalation, then the runbook's own page."""
    table = "\n".join(f"| {key} | {value} |" for key, value in metadata_rows(runbook))
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(runbook.steps, start=1))
    thresholds = "\n".join(
        f"- `{name}` = {t.value:g} {t.unit}"
        + (f" for {t.for_minutes:g} min" if t.for_minutes else "")
        + f": {t.text}"
        for name, t in runbook.thresholds.items()
    )
    parts = [
        f"# {runbook.title}",
        "| | |\n|---|---|\n" + table,
        "## Steps\n\n" + steps,
    ]
    if thresholds:
        parts.append("## Thresholds (from the catalog)\n\n" + thresholds)
    escalate_note = (
        "Timers run while the run is unresolved." if runbook.escalate else "Manual escalation only."
    )
    parts.append("## Escalation\n\n" + "\n".join(escalation_lines(runbook)) + f"\n\n{escalate_note}")
    if runbook.page:
        parts.append(runbook.page.strip())
    return "\n\n".join(parts) + "\n"
