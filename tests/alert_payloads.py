"""Alertmanager webhook v4 payloads for the bridge's tests, shaped like what Alertmanager 0.25 sends."""

from __future__ import annotations


def notification(**overrides: object) -> dict[str, object]:
    """Build a one-alert firing notification; ``alert_<field>`` overrides the alert's field."""
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "runbook": "high_error_rate", "severity": "critical"},
        "annotations": {"summary": "novacron-api error rate above 1%"},
        "startsAt": "2026-11-27T11:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:29090/graph",
        "fingerprint": "3f2a9c0d1e2b4a5c",
    }
    body: dict[str, object] = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate", runbook="high_error_rate"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "airflow-runbooks",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:29093",
        "alerts": [alert],
    }
    for key, value in overrides.items():
        if key.startswith("alert_"):
            alert[key.removeprefix("alert_")] = value
        else:
            body[key] = value
    return body
