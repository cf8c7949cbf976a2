"""The webhook payload check: Alertmanager's v4 shape passes, anything else is refused naming the field."""

from __future__ import annotations

import json

import pytest
from alert_payloads import notification

from novacron_runbooks.bridge.payload import PayloadError, parse_notification


def test_alertmanager_payload_is_parsed():
    parsed = parse_notification(json.dumps(notification()).encode())
    assert parsed.status == "firing"
    assert parsed.alerts[0].labels["runbook"] == "high_error_rate"
    assert parsed.alerts[0].startsAt.year == 2026


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (notification(version="3"), "version"),
        (notification(groupKey=""), "groupKey"),
        (notification(groupKey="a\x00b"), "groupKey"),
        (notification(status="pending"), "status"),
        (notification(alerts=[]), "alerts"),
        (notification(alert_labels=["runbook"]), "alerts.0.labels"),
        (notification(alert_labels={"runbook": 3}), "alerts.0.labels.runbook"),
        (notification(alert_startsAt="yesterday"), "alerts.0.startsAt"),
        (notification(alert_fingerprint="not hex!"), "alerts.0.fingerprint"),
        ({k: v for k, v in notification().items() if k != "alerts"}, "alerts"),
    ],
    ids=["version", "empty-group", "control-in-group", "status", "no-alerts", "labels-list", "label-int",
         "startsAt", "fingerprint", "missing-alerts"],
)  # fmt: skip
def test_malformed_payload_names_the_field(body, field):
    with pytest.raises(PayloadError) as err:
        parse_notification(json.dumps(body).encode())
    assert err.value.field == field


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_an_object_is_refused(raw):
    with pytest.raises(PayloadError, match="JSON"):
        parse_notification(raw)
