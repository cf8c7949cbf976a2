"""The canary's plan without a cluster: replicas per step, the param checks, how a step's verdicts combine."""

from __future__ import annotations

import pytest

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.operators.canary import step_action
from novacron_runbooks.release.canary import (
    ABORT_ACTION_SECONDS,
    canary_replicas,
    check_abort_budget,
    check_steps,
    rendered_step_gates,
    step_plan,
    traffic_share,
    worst_case_abort_seconds,
)

RUNBOOK = default_catalog().get("canary")
DEFAULTS = {name: spec["default"] for name, spec in RUNBOOK.params.items() if "default" in spec}


class TestReplicaSplit:
    @pytest.mark.parametrize(
        ("stable", "weight", "canary", "share"),
        [
            (3, 50, 3, 50.0),
            (3, 25, 1, 25.0),
            (3, 5, 1, 25.0),  # one pod is the smallest canary: 5% asked, 25% got (the plan shows it)
            (9, 10, 1, 10.0),
            (19, 5, 1, 5.0),
            (3, 75, 9, 75.0),
            (3, 90, 27, 90.0),
            (4, 30, 2, 33.3),  # 1.71 rounds to 2
            (10, 20, 3, 23.1),  # 2.5 rounds half up
        ],
    )
    def test_canary_share_of_ready_replicas_approximates_the_step(self, stable, weight, canary, share):
        assert canary_replicas(stable, weight) == canary
        assert traffic_share(canary, stable) == share

    @pytest.mark.parametrize(("stable", "weight"), [(3, 0), (3, 100), (0, 50)])
    def test_no_split_without_both_sides(self, stable, weight):
        with pytest.raises(ValueError, match="share in|at least one replica"):
            canary_replicas(stable, weight)

    def test_no_ready_pods_get_no_share(self):
        assert traffic_share(0, 0) == 0.0

    def test_plan_of_the_default_steps_ends_in_the_promotion(self):
        plan = step_plan(3, [5, 10, 25, 50, 100])
        assert [(s["weight"], s["canary_replicas"], s["share"]) for s in plan] == [
            (5, 1, 25.0),
            (10, 1, 25.0),
            (25, 1, 25.0),
            (50, 3, 50.0),
            (100, None, 100.0),
        ]


class TestParamChecks:
    @pytest.mark.parametrize("steps", [[5, 10, 25, 50, 100], [50, 100], [1, 99, 100]])
    def test_ascending_steps_ending_at_100_pass(self, steps):
        check_steps({"steps": steps})

    @pytest.mark.parametrize(
        ("steps", "why"),
        [
            ([10, 5, 100], "strictly increasing"),
            ([10, 10, 100], "strictly increasing"),
            ([10, 50], "must end at 100"),
            ([100], "needs a step under 100"),
        ],
    )
    def test_bad_steps_are_refused_naming_the_field(self, steps, why):
        with pytest.raises(ParamError, match=why) as refused:
            check_steps({"steps": steps})
        assert refused.value.field == "steps"

    def test_the_defaults_abort_well_within_the_budget(self):
        check_abort_budget(RUNBOOK)(DEFAULTS)
        # one 60 s measurement + 5 s query, or 3 errors 2 s apart: the error path is the longest
        assert worst_case_abort_seconds(DEFAULTS, RUNBOOK) == 60 + 2 * 2 + 3 * 5 + ABORT_ACTION_SECONDS

    def test_a_slow_analysis_is_refused_naming_the_interval(self):
        slow = {**DEFAULTS, "interval_seconds": 300, "analysis": {**DEFAULTS["analysis"], "failure_limit": 3}}
        with pytest.raises(ParamError, match="budget") as refused:
            check_abort_budget(RUNBOOK)(slow)
        assert refused.value.field == "interval_seconds"

    def test_gates_are_rendered_with_the_measurement_spacing_as_window(self):
        values = {
            **DEFAULTS,
            "interval_seconds": 30,
            "analysis": {**DEFAULTS["analysis"], "failure_limit": 2},
        }
        errors, latency = rendered_step_gates(values, RUNBOOK)
        assert (errors.name, latency.name) == ("canary_errors", "canary_latency")
        assert "[10s]" in errors.query and "[10s]" in latency.comparison.baseline_query
        assert (errors.count, errors.interval_seconds, errors.failure_limit) == (3, 10, 2)
        assert ">= 50" in errors.query  # min_requests


class TestStepAction:
    gates = rendered_step_gates(DEFAULTS, RUNBOOK)

    @staticmethod
    def event(errors: str, latency: str, status: str = "done") -> dict:
        return {
            "status": status,
            "gates": [
                {"gate": "canary_errors", "phase": errors},
                {"gate": "canary_latency", "phase": latency},
            ],
        }

    @pytest.mark.parametrize(
        ("errors", "latency", "action"),
        [
            ("successful", "successful", "proceed"),
            ("failed", "running", "rollback"),  # latency was stopped early: it does not vote
            ("successful", "error", "rollback"),
            ("inconclusive", "successful", "ask"),
            ("inconclusive", "failed", "rollback"),
        ],
    )
    def test_the_safest_action_wins(self, errors, latency, action):
        assert step_action(self.gates, self.event(errors, latency)) == action

    def test_a_trigger_error_or_no_verdict_rolls_back(self):
        assert step_action(self.gates, self.event("successful", "successful", status="error")) == "rollback"
        assert step_action(self.gates, {"status": "done", "gates": []}) == "rollback"
        assert step_action(self.gates, self.event("running", "running")) == "rollback"
