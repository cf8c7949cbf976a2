"""The run note as the group's alert log: a repeat counter and resolution lines, within Airflow's limit."""

from __future__ import annotations

from datetime import UTC, datetime

from novacron_runbooks.bridge.note import MAX_NOTE, started_note, with_repeat, with_resolved

AT = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def test_repeats_are_counted_not_listed():
    text = started_note("HighErrorRate", "critical", "abcd", "within budget", AT)
    for _ in range(500):
        text = with_repeat(text, AT)
    lines = text.splitlines()
    assert lines[0].startswith("Started by Alertmanager at 2026-11-27T11:00:00Z: HighErrorRate (critical)")
    assert lines[1] == "Repeat notifications: 500 (last 2026-11-27T11:00:00Z)"
    assert len(text) <= MAX_NOTE


def test_resolutions_are_recorded_once_and_bounded():
    text = started_note("HighErrorRate", "critical", "abcd", "within budget", AT)
    text = with_resolved(text, "HighErrorRate", "00ff", AT)
    assert with_resolved(text, "HighErrorRate", "00ff", AT) == text
    assert text.endswith("Resolved: HighErrorRate 00ff at 2026-11-27T11:00:00Z")
    for i in range(100):
        text = with_resolved(text, "HighErrorRate", f"{i:04x}", None)
    assert len(text) <= MAX_NOTE
    assert text.startswith("Started by Alertmanager")
    assert "More resolved alerts: " in text
    assert text.splitlines()[-2].startswith("Resolved: HighErrorRate 0063")


def test_a_note_written_by_a_person_is_kept():
    text = with_repeat("INC-42: looking at it (alice)", AT)
    assert text.splitlines() == [
        "INC-42: looking at it (alice)",
        "Repeat notifications: 1 (last 2026-11-27T11:00:00Z)",
    ]
