"""Publish the game day's scores to the Pushgateway, one group per scenario.

Every name of the group is pushed each time, so a game day never leaves an earlier one's figure beside its
own.

Names (``scenario``, ``alert`` and ``runbook`` labels; the game day is the only writer):

- ``novacron_gameday_passed``, ``novacron_gameday_detected``, ``novacron_gameday_runbook_started``,
  ``novacron_gameday_resolved`` (1 or 0);
- ``novacron_gameday_detect_seconds`` / ``..._detect_target_seconds``: fault to alert firing, against the live
  rule's ``for`` plus the margin; ``novacron_gameday_resolve_seconds`` / ``..._resolve_target_seconds``: alert
  firing to resolved, against the runbook's response time (NaN where the stage never happened);
- ``novacron_gameday_last_run_timestamp_seconds``: when the game day scored it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from novacron_runbooks.gameday.scoring import Score
    from novacron_runbooks.hooks.pushgateway import PushgatewayHook

PUSH_JOB = "novacron_chaos_game_day"
PREFIX = "novacron_gameday_"


def gauges(score: Score, at: float) -> dict[str, tuple[str, float]]:
    """Return ``name -> (help, value)`` for one scenario's score."""
    nan = float("nan")
    return {
        f"{PREFIX}passed": ("1 when the scenario was detected and resolved in time.", float(score.passed)),
        f"{PREFIX}detected": ("1 when the expected alert fired.", float(score.detected)),
        f"{PREFIX}runbook_started": ("1 when the bridge started the runbook.", float(score.runbook_started)),
        f"{PREFIX}resolved": (
            "1 when the runbook run succeeded and the alert resolved.",
            float(score.resolved),
        ),
        f"{PREFIX}detect_seconds": ("Fault to alert firing.", score.detect_seconds or nan),
        f"{PREFIX}detect_target_seconds": ("The rule's for plus margin.", score.detect_target_seconds),
        f"{PREFIX}resolve_seconds": ("Alert firing to resolved.", score.resolve_seconds or nan),
        f"{PREFIX}resolve_target_seconds": ("The runbook's response time.", score.resolve_target_seconds),
        f"{PREFIX}last_run_timestamp_seconds": ("Unix time the game day scored the scenario.", at),
    }


def publish(hook: PushgatewayHook, score: Score, at: float) -> list[str]:
    """Push every figure of the scenario's group (all names each time); return the metric names pushed."""
    found = gauges(score, at)
    hook.push(PUSH_JOB, found, {"scenario": score.scenario, "alert": score.alert, "runbook": score.runbook})
    return sorted(found)
