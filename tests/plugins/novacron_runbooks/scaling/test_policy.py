"""Autoscaler policies kept in the repository: every bad field refused by name, the repository's own valid."""

from __future__ import annotations

import copy

import pytest
import yaml

from novacron_runbooks.scaling.live import diff
from novacron_runbooks.scaling.policy import PolicyError, load, policies_dir, validate

GOOD = {
    "name": "novacron-api",
    "target": "active-colour",
    "min_replicas": 3,
    "max_replicas": 12,
    "cpu_target_percent": 70,
    "scale_up": {
        "stabilization_window_seconds": 0,
        "select_policy": "Max",
        "policies": [{"type": "Pods", "value": 4, "period_seconds": 60}],
    },
    "scale_down": {
        "stabilization_window_seconds": 300,
        "select_policy": "Min",
        "policies": [{"type": "Pods", "value": 1, "period_seconds": 60}],
    },
}


def changed(**fields):
    policy = copy.deepcopy(GOOD)
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        node = policy
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return policy


def test_every_policy_in_the_repository_is_valid():
    names = sorted(p.stem for p in policies_dir().glob("*.yaml"))
    assert "novacron-api" in names
    for name in names:
        assert load(name).name == name


def test_min_above_max_is_refused_naming_the_field():
    with pytest.raises(PolicyError, match=r"min_replicas: 8 is above max_replicas 5") as caught:
        validate(changed(min_replicas=8, max_replicas=5), "p.yaml")
    assert caught.value.field == "min_replicas"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"min_replicas": 2}, "min_replicas", "below the availability floor of 3"),
        ({"cpu_target_percent": 85}, "cpu_target_percent", "above the 70% scale-up point"),
        ({"cpu_target_percent": 5}, "cpu_target_percent", "outside 20..100"),
        ({"max_replicas": "twelve"}, "max_replicas", "not a whole number"),
        ({"scale_down__stabilization_window_seconds": 30}, "scale_down.stabilization_window_seconds", "flap"),
        (
            {"scale_up__stabilization_window_seconds": 7200},
            "scale_up.stabilization_window_seconds",
            "0..3600",
        ),
        ({"scale_up__policies": []}, "scale_up.policies", "at least one rule"),
        ({"scale_down__policies__0__type": "Nodes"}, "scale_down.policies[0].type", "not Pods or Percent"),
        ({"scale_down__policies__0__period_seconds": 0}, "scale_down.policies[0].period_seconds", "1..1800"),
        ({"scale_up__select_policy": "Fast"}, "scale_up.select_policy", "not one of"),
        ({"min_replica": 3}, "min_replica", "unknown field"),
        ({"scale_down": ...}, "scale_down", "is required"),
        ({"target": "Blue Deployment"}, "target", "neither active-colour"),
        ({"name": "other"}, "name", "differs from the file's name"),
    ],
)
def test_bad_fields_are_refused_by_name(fields, field, words):
    with pytest.raises(PolicyError, match=words) as caught:
        validate(changed(**fields), "p.yaml", expected_name="novacron-api")
    assert caught.value.field == field


def test_unknown_policy_names_the_known_ones(tmp_path):
    (tmp_path / "novacron-api.yaml").write_text(yaml.safe_dump(GOOD))
    with pytest.raises(PolicyError, match=r"known: novacron-api"):
        load("dwcp-agent", tmp_path)


def test_diff_lists_only_the_fields_a_policy_decides():
    wanted = validate(GOOD, "p.yaml").hpa_spec("novacron-api-blue")
    live = copy.deepcopy(wanted)
    assert diff(live, wanted) == []
    live["minReplicas"] = 5
    live["behavior"]["scaleDown"]["stabilizationWindowSeconds"] = 60
    live["unrelated"] = "ignored"
    rows = diff(live, wanted)
    assert [(r["field"], r["live"], r["wanted"]) for r in rows] == [
        ("behavior.scaleDown.stabilizationWindowSeconds", 60, 300),
        ("minReplicas", 5, 3),
    ]
    created = diff(None, wanted)
    assert {r["field"] for r in created} >= {"minReplicas", "maxReplicas", "scaleTargetRef.name"}
