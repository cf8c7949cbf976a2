"""Autoscaler policies kept in the repository (``include/autoscaling/<name>.yaml``), validated field by field.

A policy is what the team decided the HorizontalPodAutoscaler ``<name>`` should be: its bounds, its CPU target
and how fast it may move each way. Validation refuses, naming the field, anything the other runbooks rely on
not happening: a minimum above the maximum, a minimum under scale_down's availability floor, a CPU target over
the index's 70% scale-up point, and behaviour windows that would make the autoscaler flap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.paths import include_dir

if TYPE_CHECKING:
    from pathlib import Path

ACTIVE_COLOUR = "active-colour"
"""``target`` value: the Deployment the Service selects now, followed across blue/green switches."""
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
TOP_KEYS = ("name", "target", "min_replicas", "max_replicas", "cpu_target_percent", "scale_up", "scale_down")
BEHAVIOUR_KEYS = ("stabilization_window_seconds", "select_policy", "policies")
RULE_KEYS = ("type", "value", "period_seconds")
SELECT = ("Max", "Min", "Disabled")
MAX_REPLICAS = 100
MIN_CPU_TARGET = 20
"""Under 20% the autoscaler would hold several idle pods per busy one: a typo more often than a decision."""
MIN_SCALE_DOWN_WINDOW = 60
"""A scale-down that follows the load within a minute removes pods a short dip did not need gone: flapping."""
MAX_WINDOW_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800
"""Kubernetes' own limits: stabilization windows up to an hour, policy periods up to 30 minutes."""


class PolicyError(ValueError):
    """A policy is invalid; ``field`` is its dotted path (``scale_down.policies[0].value``)."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        super().__init__(f"{source}: {field}: {message}")


def availability_floor() -> int:
    return int(catalog_runbook("scale_down").threshold("availability_floor").value)


def cpu_ceiling_percent() -> int:
    return round(100 * catalog_runbook("auto_scaling").threshold("cpu_usage").value)


def policies_dir() -> Path:
    return include_dir() / "autoscaling"


@dataclass(frozen=True)
class Policy:
    """A validated policy; ``behaviour`` holds ``scale_up`` and ``scale_down`` as written."""

    name: str
    target: str
    min_replicas: int
    max_replicas: int
    cpu_target_percent: int
    behaviour: dict[str, dict[str, Any]]

    def hpa_spec(self, deployment: str) -> dict[str, Any]:
        """Return the HorizontalPodAutoscaler (autoscaling/v2) spec that scales ``deployment``."""
        return {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": self.cpu_target_percent},
                    },
                }
            ],
            "behavior": {
                "scaleUp": _hpa_rules(self.behaviour["scale_up"]),
                "scaleDown": _hpa_rules(self.behaviour["scale_down"]),
            },
        }


def _hpa_rules(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": rules["stabilization_window_seconds"],
        "selectPolicy": rules["select_policy"],
        "policies": [
            {"type": p["type"], "value": p["value"], "periodSeconds": p["period_seconds"]}
            for p in rules["policies"]
        ],
    }


def _integer(source: str, field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(source, field, f"{value!r} is not a whole number")
    if not low <= value <= high:
        raise PolicyError(source, field, f"{value} is outside {low}..{high}")
    return value


def _keys(source: str, field: str, data: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Require a mapping with exactly ``allowed`` keys (a typo must not leave a default in force)."""
    if not isinstance(data, dict):
        raise PolicyError(source, field or "(policy)", f"must be a mapping, not {type(data).__name__}")
    prefix = f"{field}." if field else ""
    for key in data:
        if key not in allowed:
            raise PolicyError(source, f"{prefix}{key}", f"unknown field (known: {', '.join(allowed)})")
    for key in allowed:
        if key not in data:
            raise PolicyError(source, f"{prefix}{key}", "is required")
    return data


def _rules(source: str, field: str, data: Any) -> dict[str, Any]:
    """Validate one direction's behaviour: its window, how rules combine, and each rule."""
    rules = _keys(source, field, data, BEHAVIOUR_KEYS)
    _integer(
        source,
        f"{field}.stabilization_window_seconds",
        rules["stabilization_window_seconds"],
        0,
        MAX_WINDOW_SECONDS,
    )
    if rules["select_policy"] not in SELECT:
        raise PolicyError(
            source, f"{field}.select_policy", f"{rules['select_policy']!r} is not one of {SELECT}"
        )
    policies = rules["policies"]
    if not isinstance(policies, list) or not policies:
        raise PolicyError(source, f"{field}.policies", "needs at least one rule")
    for index, rule in enumerate(policies):
        where = f"{field}.policies[{index}]"
        _keys(source, where, rule, RULE_KEYS)
        if rule["type"] not in ("Pods", "Percent"):
            raise PolicyError(source, f"{where}.type", f"{rule['type']!r} is not Pods or Percent")
        _integer(
            source, f"{where}.value", rule["value"], 1, 1000 if rule["type"] == "Percent" else MAX_REPLICAS
        )
        _integer(source, f"{where}.period_seconds", rule["period_seconds"], 1, MAX_PERIOD_SECONDS)
    return rules


def _bounds(source: str, data: dict[str, Any]) -> tuple[int, int, int]:
    """Validate min/max replicas against each other and the floor, and the CPU target against the ceiling."""
    floor = availability_floor()
    low = _integer(source, "min_replicas", data["min_replicas"], 1, MAX_REPLICAS)
    if low < floor:
        raise PolicyError(
            source,
            "min_replicas",
            f"{low} is below the availability floor of {floor} replicas "
            "(threshold availability_floor of the scale_down runbook)",
        )
    high = _integer(source, "max_replicas", data["max_replicas"], 1, MAX_REPLICAS)
    if low > high:
        raise PolicyError(source, "min_replicas", f"{low} is above max_replicas {high}")
    ceiling = cpu_ceiling_percent()
    cpu = _integer(source, "cpu_target_percent", data["cpu_target_percent"], MIN_CPU_TARGET, 100)
    if cpu > ceiling:
        raise PolicyError(
            source,
            "cpu_target_percent",
            f"{cpu}% is above the {ceiling}% scale-up point "
            "(threshold cpu_usage of the auto_scaling runbook)",
        )
    return low, high, cpu


def _behaviour(source: str, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Validate both directions, and that scale-down waits at least a minute and no less than scale-up."""
    up = _rules(source, "scale_up", data["scale_up"])
    down = _rules(source, "scale_down", data["scale_down"])
    window = "stabilization_window_seconds"
    shortest = max(MIN_SCALE_DOWN_WINDOW, up[window])
    if down[window] < shortest:
        raise PolicyError(
            source,
            f"scale_down.{window}",
            f"{down[window]} s is shorter than {shortest} s (a minute, and no shorter than scale_up's): "
            "the autoscaler would remove pods a short dip did not need gone, and flap",
        )
    return {"scale_up": up, "scale_down": down}


def validate(data: Any, source: str, expected_name: str | None = None) -> Policy:
    """Check every field of a policy; raise :class:`PolicyError` naming the first bad one."""
    data = _keys(source, "", data, TOP_KEYS)
    name = data["name"]
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PolicyError(source, "name", f"{name!r} is not a Kubernetes object name")
    if expected_name is not None and name != expected_name:
        raise PolicyError(source, "name", f"{name!r} differs from the file's name {expected_name!r}")
    target = data["target"]
    if not isinstance(target, str) or not (target == ACTIVE_COLOUR or NAME.fullmatch(target)):
        raise PolicyError(source, "target", f"{target!r} is neither {ACTIVE_COLOUR} nor a Deployment name")
    low, high, cpu = _bounds(source, data)
    return Policy(name, target, low, high, cpu, _behaviour(source, data))


def load(name: str, folder: Path | None = None) -> Policy:
    """Load and validate ``<folder>/<name>.yaml`` (default: the repository's ``include/autoscaling``)."""
    folder = folder or policies_dir()
    if not NAME.fullmatch(name):
        raise PolicyError(name, "name", "is not a Kubernetes object name")
    path = folder / f"{name}.yaml"
    source = f"autoscaling/{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise PolicyError(source, "(file)", f"no such policy in the repository (known: {known})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PolicyError(source, "(file)", f"is not valid YAML: {exc}") from exc
    return validate(data, source, expected_name=name)
