"""Slack and PagerDuty notifications go through the providers' notifiers to the sandbox receivers."""

from __future__ import annotations

import json
import urllib.request
import uuid
from types import SimpleNamespace

import pytest

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.notify import page, post_slack
from novacron_runbooks.hooks.pagerduty import PagerdutyEventError, RoutedPagerdutyEventsHook, events_base_url

pytestmark = pytest.mark.sandbox


def _messages(layout, kind: str) -> list[dict]:
    with urllib.request.urlopen(f"{layout.url('receivers')}/_messages?kind={kind}", timeout=10) as response:
        body = json.load(response)
    return body["messages"] if isinstance(body, dict) else body


def _context(run_id: str) -> dict:
    return {"dag_run": SimpleNamespace(dag_id="service_down", run_id=run_id)}


def test_slack_message_reaches_the_channel(sandbox):
    marker = uuid.uuid4().hex
    assert post_slack(_context("r1"), "#sre-team", f"hello {marker}") is True
    sent = [m for m in _messages(sandbox, "slack") if marker in json.dumps(m)]
    assert len(sent) == 1
    assert sent[0]["body"]["channel"] == "#sre-team"


def test_undeliverable_slack_message_is_reported_not_raised(sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVACRON_SLACK",
        json.dumps(
            {"conn_type": "slack", "password": "xoxb-x", "extra": {"base_url": "http://127.0.0.1:9/api/"}}
        ),
    )
    assert post_slack(_context("r2"), "#sre-team", "nobody hears this") is False


def test_critical_runbook_pages_with_the_run_as_dedup_key(sandbox):
    run_id = f"manual__{uuid.uuid4().hex}"
    runbook = default_catalog().get("service_down")
    assert page(_context(run_id), runbook, "API down") is True
    assert page(_context(run_id), runbook, "API down resolved", action="resolve") is True
    events = [m["body"] for m in _messages(sandbox, "pagerduty") if run_id in json.dumps(m)]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == f"service_down/{run_id}"
    assert events[0]["payload"]["severity"] == "critical"


def test_warning_only_runbook_does_not_page(sandbox):
    assert page(_context("r3"), default_catalog().get("high_latency"), "slow") is False


def test_refused_event_raises_with_the_reason(sandbox):
    hook = RoutedPagerdutyEventsHook()
    with pytest.raises(PagerdutyEventError, match="400"):
        hook.send_event(summary="", severity="nonsense")


def test_events_url_defaults_to_pagerduty():
    assert events_base_url(None) == "https://events.pagerduty.com"
    assert events_base_url("events.eu.pagerduty.com") == "https://events.eu.pagerduty.com"
    assert events_base_url("http://127.0.0.1:1/") == "http://127.0.0.1:1"


def test_escalation_callback_posts_to_slack_and_pages(sandbox):
    """The deadline-alert callback, run as the triggerer runs it (async, the scheduler's simple context)."""
    import asyncio

    from novacron_runbooks.dagkit.escalation import escalate

    run_id = f"manual__{uuid.uuid4().hex}"
    asyncio.run(
        escalate(
            runbook="high_error_rate",
            level=2,
            role="Team Lead",
            after_minutes=15,
            channel="#sre-team",
            page=True,
            context={"dag_run": {"dag_id": "high_error_rate", "dag_run_id": run_id}},  # the scheduler's shape
        )
    )
    slack = [m["body"] for m in _messages(sandbox, "slack") if run_id in json.dumps(m)]
    assert len(slack) == 1
    assert "escalating to level 2, Team Lead" in slack[0]["text"]
    events = [m["body"] for m in _messages(sandbox, "pagerduty") if run_id in json.dumps(m)]
    assert len(events) == 1
    assert events[0]["dedup_key"] == f"high_error_rate/{run_id}"
    assert events[0]["payload"]["custom_details"]["escalation_level"] == 2
