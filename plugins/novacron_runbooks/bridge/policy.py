"""The circuit breaker on automatic remediation: a budget of alert-started runs per runbook and window.

Beyond the budget the bridge keeps starting runs, as dry runs flagged ``breaker_open``: an SRE paged at
night wants the incident opened and diagnosed, not silence, and wants a person, not a loop, to decide the
fourth rollback of the hour. The policy file (``include/alert_bridge.yaml``) is read per notification.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from novacron_runbooks.paths import include_dir

POLICY_ENV = "NOVACRON_ALERT_BRIDGE_POLICY"


class PolicyError(ValueError):
    """The bridge's policy file is missing or malformed; the bridge then starts nothing."""


@dataclass(frozen=True)
class RunbookPolicy:
    max_runs: int
    automatic_remediation: bool


@dataclass(frozen=True)
class Policy:
    window: timedelta
    default: RunbookPolicy
    runbooks: dict[str, RunbookPolicy]

    def for_runbook(self, name: str) -> RunbookPolicy:
        return self.runbooks.get(name, self.default)


@dataclass(frozen=True)
class Decision:
    """Whether an alert-started run may change things, and why (recorded in the response, log and note)."""

    dry_run: bool
    breaker_open: bool
    reason: str


def policy_path() -> Path:
    return Path(os.environ.get(POLICY_ENV) or include_dir() / "alert_bridge.yaml")


def _runbook_policy(data: Any, where: str, base: RunbookPolicy | None) -> RunbookPolicy:
    if not isinstance(data, dict) or set(data) - {"max_runs", "automatic_remediation"}:
        raise PolicyError(f"{where}: a mapping of max_runs and automatic_remediation")
    max_runs = data.get("max_runs", base.max_runs if base else None)
    automatic = data.get("automatic_remediation", base.automatic_remediation if base else None)
    if not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 0:
        raise PolicyError(f"{where}.max_runs: a whole number >= 0")
    if not isinstance(automatic, bool):
        raise PolicyError(f"{where}.automatic_remediation: true or false")
    return RunbookPolicy(max_runs, automatic)


def load_policy(path: Path | None = None) -> Policy:
    """Read and check the policy file; raise :class:`PolicyError` naming the field."""
    path = path or policy_path()
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"window_minutes", "default", "runbooks"}:
        raise PolicyError(f"{path.name}: a mapping of window_minutes, default and runbooks")
    window = data.get("window_minutes")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 1440:
        raise PolicyError(f"{path.name}: window_minutes: a whole number of minutes from 1 to 1440")
    default = _runbook_policy(data.get("default"), "default", None)
    overrides = data.get("runbooks") or {}
    if not isinstance(overrides, dict):
        raise PolicyError(f"{path.name}: runbooks: a mapping of runbook name to policy")
    runbooks = {
        str(name): _runbook_policy(spec, f"runbooks.{name}", default) for name, spec in overrides.items()
    }
    return Policy(timedelta(minutes=window), default, runbooks)


def decide(policy: Policy, runbook: str, started_in_window: int, *, mutating: bool) -> Decision:
    """Decide dry-run for the next alert-started run of ``runbook``, given the runs already in the window."""
    rule = policy.for_runbook(runbook)
    minutes = int(policy.window.total_seconds() // 60)
    used = f"{started_in_window}/{rule.max_runs} alert-started runs in {minutes} min"
    if started_in_window >= rule.max_runs:
        return Decision(True, True, f"circuit breaker open: {used}; dry run, a person decides")
    if not mutating:
        return Decision(False, False, f"read-only runbook; {used}")
    if not rule.automatic_remediation:
        return Decision(True, False, f"policy: no automatic remediation for {runbook}; dry run ({used})")
    return Decision(False, False, f"automatic remediation within budget: {used}")
