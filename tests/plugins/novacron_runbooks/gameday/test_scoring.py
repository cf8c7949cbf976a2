"""The game day's verdicts: each stage of an incident judged in order, the first gap named, times scored."""

from __future__ import annotations

import math

import pytest

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.gameday import scenarios
from novacron_runbooks.gameday.metrics import gauges
from novacron_runbooks.gameday.scoring import Observation, score, summary

FAULT = "2026-01-01T05:00:00+00:00"


def _obs(**seen: object) -> Observation:
    base: dict[str, object] = {
        "scenario": "latency",
        "alert": "HighLatency",
        "runbook": "high_latency",
        "fault_at": FAULT,
        "detect_target_seconds": 390.0,
        "resolve_target_seconds": 900.0,
    }
    return Observation(**{**base, **seen})  # type: ignore[arg-type]


RESOLVED = {
    "fired_at": "2026-01-01T05:06:00+00:00",
    "run_id": "alert__1",
    "run_started_at": "2026-01-01T05:06:05+00:00",
    "run_state": "success",
    "run_ended_at": "2026-01-01T05:10:00+00:00",
    "resolved_at": "2026-01-01T05:11:00+00:00",
}


class TestScore:
    def test_a_scenario_detected_and_resolved_in_time_passes(self):
        found = score(_obs(**RESOLVED))
        assert found.passed and found.gap is None
        assert (found.detected, found.runbook_started, found.resolved) == (True, True, True)
        assert found.detect_seconds == 360.0
        assert found.resolve_seconds == 300.0  # from the alert firing, not from the fault

    def test_a_runbook_that_failed_to_resolve_its_fault_is_the_gap(self):
        found = score(_obs(**{**RESOLVED, "run_state": "failed", "resolved_at": None}))
        assert not found.passed and not found.resolved
        assert found.detected and found.runbook_started
        assert found.gap == "high_latency run alert__1 did not resolve the fault: it ended failed"

    def test_a_run_still_going_at_the_response_time_is_not_resolved(self):
        found = score(_obs(**{**RESOLVED, "run_state": "running", "run_ended_at": None, "resolved_at": None}))
        assert (
            found.gap is not None and "still running at the response time" in found.gap and not found.resolved
        )

    def test_a_successful_run_whose_alert_keeps_firing_did_not_resolve_it(self):
        found = score(_obs(**{**RESOLVED, "resolved_at": None}))
        assert found.gap == "high_latency run alert__1 succeeded but HighLatency kept firing"
        assert not found.resolved

    def test_an_alert_that_never_fired_is_the_first_gap(self):
        found = score(_obs())
        assert found.gap == "HighLatency did not fire"
        assert (found.detected, found.runbook_started, found.resolved) == (False, False, False)
        assert found.detect_seconds is None

    def test_a_late_alert_misses_its_detection_target(self):
        found = score(_obs(**{**RESOLVED, "fired_at": "2026-01-01T05:07:00+00:00"}))
        assert found.gap is not None and "fired after 420s, over its 390s" in found.gap

    def test_an_alert_without_an_incident_run_names_the_bridge_stage(self):
        found = score(_obs(fired_at=RESOLVED["fired_at"]))
        assert found.gap == "HighLatency fired but no high_latency run was started for it"

    def test_resolution_over_the_response_time_fails(self):
        found = score(_obs(**{**RESOLVED, "resolved_at": "2026-01-01T05:21:01+00:00"}))
        assert found.gap is not None and "over the 900s response time" in found.gap
        assert found.resolve_seconds == 901.0

    def test_summary_counts_the_gaps(self):
        result = summary([score(_obs(**RESOLVED)), score(_obs())])
        assert result == {"scenarios": 2, "passed": 1, "gaps": {"latency": "HighLatency did not fire"}}

    def test_observation_round_trips_through_json(self):
        seen = _obs(**RESOLVED)
        assert Observation.from_json(seen.to_json()) == seen


class TestMetrics:
    def test_an_unresolved_scenario_publishes_zero_and_no_resolve_time(self):
        found = gauges(score(_obs(**{**RESOLVED, "run_state": "failed", "resolved_at": None})), 1.0)
        assert found["novacron_gameday_passed"][1] == 0.0
        assert found["novacron_gameday_resolved"][1] == 0.0
        assert found["novacron_gameday_detected"][1] == 1.0
        assert math.isnan(found["novacron_gameday_resolve_seconds"][1])
        assert found["novacron_gameday_resolve_target_seconds"][1] == 900.0


class TestScenarioTable:
    def test_each_scenario_names_an_alert_its_runbook_is_triggered_by(self):
        scenarios.check_table()
        catalog = default_catalog()
        for scenario in scenarios.SCENARIOS:
            assert scenario.alert in catalog.get(scenario.runbook).trigger_alerts

    @pytest.mark.parametrize(
        ("runbook", "seconds"),
        [("high_latency", 900.0), ("database_issues", 900.0), ("high_error_rate", 900.0)],
    )
    def test_response_time_comes_from_the_catalog(self, runbook, seconds):
        # high_error_rate is "Immediate": it must be done before the ladder leaves the on-call engineer
        assert scenarios.response_seconds_of(default_catalog().get(runbook)) == seconds

    def test_the_job_offers_exactly_the_table(self):
        from novacron_runbooks.catalog import scheduled_job

        offered = scheduled_job("chaos_game_day").params["scenarios"]["items"]["enum"]
        assert offered == [scenario.name for scenario in scenarios.SCENARIOS]
