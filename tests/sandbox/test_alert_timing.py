"""The sandbox's copy of the alert rules: named alerts sped up, the others exactly as generated."""

from __future__ import annotations

import pytest
import yaml

from sandbox import alert_timing
from sandbox.layout import Layout
from sandbox.processes import SandboxError


def rules(layout: Layout) -> dict[str, dict]:
    document = yaml.safe_load((alert_timing.rules_dir(layout) / "novacron-runbooks.yml").read_text())
    found: dict[str, dict] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            found.setdefault(rule["alert"], rule)
    return found


def test_durations_divide_but_never_under_two_evaluation_intervals():
    assert alert_timing.scaled("5m", 20) == "15s"
    assert alert_timing.scaled("2m", 20) == "6s"
    assert alert_timing.scaled("30s", 20) == "4s"
    with pytest.raises(SandboxError, match="1h30m"):
        alert_timing.scaled("1h30m", 2)


def test_only_the_named_alert_is_sped_up(tmp_path):
    layout = Layout(root=tmp_path, port_offset=0)
    assert alert_timing.write_rules(layout) == []
    generated = rules(layout)
    assert alert_timing.write_rules(layout, {"HighErrorRate": 20}) == ["HighErrorRate"]
    fast = rules(layout)
    assert fast["HighErrorRate"]["for"] == "15s"
    assert "[15s]" in fast["HighErrorRate"]["expr"] and "[5m]" not in fast["HighErrorRate"]["expr"]
    assert fast["HighLatency"] == generated["HighLatency"]
    assert alert_timing.write_rules(layout) == []
    assert rules(layout) == generated


def test_an_unknown_alert_name_is_refused(tmp_path):
    with pytest.raises(SandboxError, match="no rule defines HighErrorRat"):
        alert_timing.write_rules(Layout(root=tmp_path, port_offset=0), {"HighErrorRat": 20})
