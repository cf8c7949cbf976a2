"""The security patch refuses bad input naming the field, and its approval window follows the severity."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from airflow.providers.standard.operators.hitl import HITLOperator

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.params import ParamError, build_params, validate_params
from novacron_runbooks.patching.approval import SeverityApprovalOperator
from novacron_runbooks.patching.plan import approval_window
from novacron_runbooks.patching.validation import CHECKS, SEVERITIES

RUNBOOK = default_catalog().get("security_patch")
API = "registry.novacron.io/novacron/api"
VALID = {
    "cve_id": "CVE-2026-31337",
    "patched_image": f"{API}:1.4.3",
    "affected_images": [f"{API}:1.4.2", f"{API}@sha256:{'c' * 64}"],
    "severity": "critical",
}


def check(**changes):
    declared = build_params(RUNBOOK)
    values = {name: param.value for name, param in declared.items() if param.has_value}
    return validate_params({**values, **VALID, **changes}, declared, CHECKS)


def test_valid_params_pass():
    assert check()["severity"] == "critical"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cve_id": "CVE-26-1"}, "cve_id"),
        ({"cve_id": "cve-2026-1234"}, "cve_id"),
        ({"cve_id": "CVE-2026-123"}, "cve_id"),
        ({"severity": "urgent"}, "severity"),
        ({"patched_image": f"{API}"}, "patched_image"),  # no tag or digest
        ({"patched_image": f"{API}:1.4.3; rm -rf /"}, "patched_image"),
        ({"affected_images": []}, "affected_images"),
        ({"affected_images": [API]}, "affected_images"),  # a bare repository would match newer releases
        ({"patched_image": f"{API}:1.4.2"}, "patched_image"),  # the patch is itself affected
    ],
)
def test_bad_input_is_refused_naming_the_field(changes, field):
    with pytest.raises(ParamError) as raised:
        check(**changes)
    assert raised.value.field == field


def test_affected_images_of_another_repository_are_refused_naming_the_item():
    with pytest.raises(ParamError) as raised:
        check(affected_images=[f"{API}:1.4.2", "registry.novacron.io/novacron/dwcp-agent:2.1.0"])
    assert raised.value.field == "affected_images.1"
    assert "one image per run" in str(raised.value)


def test_the_approval_window_is_shorter_for_a_more_severe_cve():
    windows = [approval_window(RUNBOOK, severity) for severity in SEVERITIES]
    assert windows == sorted(windows)
    assert windows[0] == timedelta(minutes=5)
    assert all(window > timedelta(0) for window in windows)  # never skipped


def test_the_approval_waits_as_long_as_the_runs_severity_says(monkeypatch):
    windows = {severity: approval_window(RUNBOOK, severity) for severity in SEVERITIES}
    operator = SeverityApprovalOperator(
        task_id="approve", subject="s", windows=windows, on_approve="go", on_reject="stop"
    )
    asked: list[timedelta | None] = []
    monkeypatch.setattr(HITLOperator, "execute", lambda self, context: asked.append(self.response_timeout))
    operator.execute({"params": {"severity": "critical"}, "dag_run": SimpleNamespace()})
    operator.execute({"params": {"severity": "low"}, "dag_run": SimpleNamespace()})
    assert asked == [windows["critical"], windows["low"]]
    assert operator.defaults == ["Reject"]
