"""The sandbox's copy of the alert rules, with named alerts optionally sped up for tests and benchmarks.

Prometheus loads the rules from a copy in the sandbox folder, never from ``include/alerts`` directly, so a
test can shorten how long named alerts wait without touching the rules the catalog generates. Speeding an
alert up by a factor divides both its ``for`` and the range windows of its expression (``[5m]`` → ``[15s]``
at 20×): the alert then fires *and resolves* that much sooner, the shape of the rule unchanged. ``reset``
restores the rules exactly as generated. Both reload Prometheus (``--web.enable-lifecycle``).
"""

from __future__ import annotations

import re
import urllib.request
from typing import TYPE_CHECKING, Any

import yaml

from sandbox.layout import REPO_ROOT
from sandbox.processes import SandboxError

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

ALERTS_DIR = REPO_ROOT / "include" / "alerts"
SHORTEST_SECONDS = 4
"""Two scrape and evaluation intervals of the sandbox's Prometheus: a shorter window holds no rate."""
_DURATION = re.compile(r"^(\d+)([smhd])$")
_RANGE = re.compile(r"\[(\d+[smhd])\]")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rules_dir(layout: Layout) -> Path:
    """Return the folder the sandbox's Prometheus loads its rule files from."""
    return layout.root / "monitoring" / "rules"


def scaled(duration: str, factor: int) -> str:
    """Return a Prometheus duration divided by ``factor``, never under two evaluation intervals."""
    match = _DURATION.match(duration)
    if not match:
        raise SandboxError(f"alert timing: cannot scale the duration {duration!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return f"{max(SHORTEST_SECONDS, seconds // factor)}s"


def _speed_up(rule: dict[str, Any], factor: int) -> None:
    if "for" in rule:
        rule["for"] = scaled(str(rule["for"]), factor)
    rule["expr"] = _RANGE.sub(lambda m: f"[{scaled(m.group(1), factor)}]", str(rule["expr"]))


def write_rules(layout: Layout, speedups: dict[str, int] | None = None) -> list[str]:
    """Copy every rule file into the sandbox, speeding up the named alerts; return the alerts changed.

    An alert name that no rule file holds is an error, so a typo never leaves a test waiting five minutes.
    """
    speedups = dict(speedups or {})
    target = rules_dir(layout)
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.yml"):
        stale.unlink()
    changed: list[str] = []
    for source in sorted(ALERTS_DIR.glob("*.yml")):
        document = yaml.safe_load(source.read_text()) or {}
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                factor = speedups.get(rule.get("alert", ""))
                if factor:
                    _speed_up(rule, factor)
                    changed.append(rule["alert"])
        (target / source.name).write_text(yaml.safe_dump(document, sort_keys=False, width=120))
    missing = sorted(set(speedups) - set(changed))
    if missing:
        raise SandboxError(f"alert timing: no rule defines {', '.join(missing)}")
    return changed


def reload_prometheus(layout: Layout) -> None:
    """Ask the running Prometheus to load the rules again; a refusal is an error, not a silent no-op."""
    request = urllib.request.Request(f"{layout.url('prometheus')}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise SandboxError(f"Prometheus refused the reload: HTTP {response.status}")


def apply(layout: Layout, speedups: dict[str, int]) -> list[str]:
    """Speed up the named alerts (an empty mapping restores the generated rules) and reload Prometheus."""
    changed = write_rules(layout, speedups)
    reload_prometheus(layout)
    return changed
