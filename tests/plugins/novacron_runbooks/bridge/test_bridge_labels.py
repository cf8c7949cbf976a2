"""Label checks: what an alert may carry into a run, and the ``alert`` param every runbook declares."""

from __future__ import annotations

import json

import pytest
from alert_payloads import notification
from jsonschema import Draft202012Validator

from novacron_runbooks.bridge.labels import ALERT_PARAM_SCHEMA, LabelError, alert_param, check_alert
from novacron_runbooks.bridge.payload import parse_notification
from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.params import build_params, validate_params


def alert_with(**labels: str):
    base = {"alertname": "HighErrorRate", "runbook": "high_error_rate", "severity": "critical"}
    body = notification(alert_labels={**base, **labels})
    return parse_notification(json.dumps(body).encode()).alerts[0]


def test_a_clean_alert_names_its_runbook():
    assert check_alert(alert_with(service="novacron-api", instance="127.0.0.1:28080")) == "high_error_rate"


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("service", 'novacron-api"} or vector(1) #'),
        ("instance", "$(rm -rf /)"),
        ("job", "api`id`"),
        ("endpoint", "/v1; curl evil"),
        ("runbook", "rollback; rm -rf /"),
        ("runbook", "../etc/passwd"),
        ("severity", "page-everyone"),
        ("note", "line\nbreak"),
        ("note", "x" * 300),
    ],
    ids=["promql", "shell-subst", "backtick", "separator", "runbook-shell", "runbook-path", "severity",
         "newline", "too-long"],
)  # fmt: skip
def test_injection_attempts_are_refused_naming_the_label(label, value):
    with pytest.raises(LabelError, match=repr(label)):
        check_alert(alert_with(**{label: value}))


def test_missing_runbook_label_is_refused():
    body = notification(alert_labels={"alertname": "Orphan"})
    with pytest.raises(LabelError, match="'runbook' label"):
        check_alert(parse_notification(json.dumps(body).encode()).alerts[0])


def test_annotations_with_control_characters_are_refused():
    body = notification(alert_annotations={"summary": "ok\x1b[31m red"})
    with pytest.raises(LabelError, match="control"):
        check_alert(parse_notification(json.dumps(body).encode()).alerts[0])


def test_alert_param_fits_its_schema_and_every_runbook_accepts_it():
    alert = alert_with(service="novacron-api")
    param = alert_param(alert, '{}:{alertname="HighErrorRate"}', breaker_open=False)
    assert not list(Draft202012Validator(ALERT_PARAM_SCHEMA).iter_errors(param))
    for runbook in default_catalog():
        declared = build_params(runbook)
        assert declared["alert"].resolve() == {}, runbook.name
        assert declared["alert"].resolve(param) == param, runbook.name
    rollback = build_params(default_catalog().get("rollback"))
    values = {name: declared.resolve() for name, declared in rollback.items()}
    assert validate_params({**values, "alert": param}, rollback)["alert"] == param


def test_alert_param_schema_refuses_a_crafted_label_given_by_hand():
    crafted = {"labels": {"service": 'novacron-api"} or vector(1) #'}}
    assert list(Draft202012Validator(ALERT_PARAM_SCHEMA).iter_errors(crafted))
    assert list(Draft202012Validator(ALERT_PARAM_SCHEMA).iter_errors({"extra": 1}))
