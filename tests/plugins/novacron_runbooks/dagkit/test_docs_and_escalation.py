from __future__ import annotations

from datetime import timedelta

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.docs import render_doc_md
from novacron_runbooks.dagkit.escalation import escalate, escalation_deadlines


def test_doc_md_carries_the_index_metadata():
    doc = render_doc_md(default_catalog().get("dr_database_failure"))
    assert doc.startswith("# ")
    for expected in (
        "<1 hour",
        "<15 minutes",
        "Critical",
        "## Steps",
        "On-call Engineer: 0–15 min",
        "VP Engineering",
    ):
        assert expected in doc


def test_doc_md_includes_the_runbook_page():
    runbook = default_catalog().get("hotfix")
    assert runbook.page.strip()[:40] in render_doc_md(runbook)


def test_escalation_timers_follow_the_ladder():
    deadlines = escalation_deadlines(default_catalog().get("high_error_rate"))
    assert [d.interval for d in deadlines] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(minutes=60),
    ]
    kwargs = [d.callback.kwargs for d in deadlines]
    assert [k["role"] for k in kwargs] == ["Team Lead", "Engineering Manager", "VP Engineering"]
    assert all(k["page"] for k in kwargs)
    assert deadlines[0].callback.path == f"{escalate.__module__}.{escalate.__name__}"


def test_no_timers_for_runbooks_that_do_not_escalate():
    assert escalation_deadlines(default_catalog().get("debug_api")) == []
