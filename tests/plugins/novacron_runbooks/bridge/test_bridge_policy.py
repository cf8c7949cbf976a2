"""The circuit breaker's policy file and its decision: budget, window, and runbooks a person must run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from novacron_runbooks.bridge.policy import PolicyError, decide, load_policy


def test_shipped_policy_loads():
    policy = load_policy()
    assert policy.window == timedelta(hours=1)
    assert policy.for_runbook("rollback").max_runs == 3
    assert policy.for_runbook("rollback").automatic_remediation is True
    assert policy.for_runbook("restore").automatic_remediation is False
    assert policy.for_runbook("restore").max_runs == 3


def test_breaker_opens_at_the_budget():
    policy = load_policy()
    within = [decide(policy, "rollback", used, mutating=True) for used in range(3)]
    assert all(not d.dry_run and not d.breaker_open for d in within)
    opened = decide(policy, "rollback", 3, mutating=True)
    assert opened.dry_run and opened.breaker_open
    assert "3/3" in opened.reason and "person" in opened.reason


def test_policy_without_automatic_remediation_is_a_dry_run_within_budget():
    decision = decide(load_policy(), "hotfix", 0, mutating=True)
    assert decision.dry_run and not decision.breaker_open


def test_read_only_runbooks_are_never_dry_runs_but_still_have_a_budget():
    assert not decide(load_policy(), "debug_api", 0, mutating=False).dry_run
    assert decide(load_policy(), "debug_api", 3, mutating=False).breaker_open


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("window_minutes: 0\ndefault: {max_runs: 1, automatic_remediation: true}\n", "window_minutes"),
        ("window_minutes: 60\ndefault: {max_runs: -1, automatic_remediation: true}\n", "default.max_runs"),
        ("window_minutes: 60\ndefault: {max_runs: 1}\n", "default.automatic_remediation"),
        (
            "window_minutes: 60\ndefault: {max_runs: 1, automatic_remediation: true}\n"
            "runbooks: {rollback: {max_run: 2}}\n",
            "runbooks.rollback",
        ),
        ("budget: 3\n", "window_minutes, default and runbooks"),
        ("window_minutes: [\n", "policy.yaml"),
    ],
)
def test_malformed_policy_is_refused_naming_the_field(tmp_path, text, message):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        load_policy(path)


def test_policy_file_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "tight.yaml"
    path.write_text("window_minutes: 5\ndefault: {max_runs: 1, automatic_remediation: false}\n")
    monkeypatch.setenv("NOVACRON_ALERT_BRIDGE_POLICY", str(path))
    policy = load_policy()
    assert policy.window == timedelta(minutes=5)
    assert decide(policy, "rollback", 1, mutating=True).breaker_open
