"""Gate semantics without a Prometheus: conditions, policies, Argo's limits, timings, serialisation."""

from __future__ import annotations

import math

import pytest

from novacron_runbooks.gates.judge import (
    Analysis,
    Measurement,
    combine,
    judge_comparison,
    judge_samples,
    judge_values,
)
from novacron_runbooks.gates.spec import Comparison, Condition, GateConfigError, GateSpec, MannWhitney
from novacron_runbooks.sensors.prometheus import decide_action

ERROR_RATE = GateSpec(
    name="error_rate",
    query='sum(rate(http_requests_total{service=$service,code=~"5.."}[1m]))',
    placeholders={"service": "label_value"},
    success=Condition("<", 0.01),
    failure=Condition(">=", 0.05),
    interval_seconds=5,
    count=3,
)


def m(verdict: str) -> Measurement:
    return Measurement("t", verdict, "test", "q")  # type: ignore[arg-type]


class TestJudgeValues:
    @pytest.mark.parametrize(
        ("values", "verdict"),
        [([0.001], "success"), ([0.2], "failure"), ([0.02], "inconclusive"), ([0.001, 0.3], "failure")],
    )
    def test_conditions(self, values, verdict):
        assert judge_values(ERROR_RATE, values)[0] == verdict

    def test_empty_result_fails_by_default(self):
        verdict, reason = judge_values(ERROR_RATE, [])
        assert verdict == "failure"
        assert "no data" in reason

    @pytest.mark.parametrize(("policy", "verdict"), [("pass", "success"), ("inconclusive", "inconclusive")])
    def test_empty_result_follows_an_explicit_policy(self, policy, verdict):
        spec = GateSpec(
            **{
                **ERROR_RATE.to_dict(),
                "on_no_data": policy,
                "success": ERROR_RATE.success,
                "failure": ERROR_RATE.failure,
            }
        )
        assert judge_values(spec, [])[0] == verdict

    def test_nan_fails_by_default(self):
        assert judge_values(ERROR_RATE, [math.nan]) == ("failure", "NaN in result (policy: fail)")

    def test_inf_compares_as_a_number(self):
        assert judge_values(ERROR_RATE, [math.inf])[0] == "failure"
        latency = GateSpec(name="p95", query="x", success=Condition("<", 0.5))
        assert judge_values(latency, [-math.inf])[0] == "success"
        assert judge_values(latency, [math.inf])[0] == "failure"

    def test_only_a_success_condition_fails_when_unmet(self):
        spec = GateSpec(name="p95", query="x", success=Condition("<", 0.5))
        assert judge_values(spec, [0.7])[0] == "failure"

    def test_only_a_failure_condition_passes_when_unmet(self):
        spec = GateSpec(name="pool", query="x", failure=Condition(">", 0.9))
        assert judge_values(spec, [0.5, 0.6])[0] == "success"
        assert judge_values(spec, [0.5, 0.95])[0] == "failure"


class TestComparison:
    spec = GateSpec(
        name="canary_errors",
        query="canary",
        comparison=Comparison(baseline_query="stable", mode="ratio", max_allowed=1.5, floor=0.001),
    )

    def test_ratio_within_bounds_passes(self):
        assert judge_comparison(self.spec, [0.012], [0.01])[0] == "success"

    def test_ratio_over_bounds_fails(self):
        assert judge_comparison(self.spec, [0.05], [0.01])[0] == "failure"

    def test_zero_baseline_with_errors_fails_but_floor_protects_idle_canary(self):
        assert judge_comparison(self.spec, [0.02], [0.0])[0] == "failure"
        assert judge_comparison(self.spec, [0.0005], [0.0])[0] == "success"

    def test_missing_side_is_no_data(self):
        assert judge_comparison(self.spec, [], [0.01])[0] == "failure"

    def test_difference_mode(self):
        spec = GateSpec(name="d", query="c", comparison=Comparison("s", "difference", max_allowed=0.005))
        assert judge_comparison(spec, [0.014], [0.01])[0] == "success"
        assert judge_comparison(spec, [0.02], [0.01])[0] == "failure"

    def test_mann_whitney_needs_enough_samples_and_detects_a_worse_canary(self):
        spec = GateSpec(
            name="mw",
            query="c",
            comparison=Comparison("s", "ratio", 10, mann_whitney=MannWhitney(min_samples=20, alpha=0.05)),
        )
        assert judge_samples(spec, [0.1] * 5, [0.1] * 5)[0] == "inconclusive"
        stable = [0.10 + 0.001 * (i % 7) for i in range(30)]
        worse = [0.20 + 0.001 * (i % 5) for i in range(30)]
        assert judge_samples(spec, worse, stable)[0] == "failure"
        assert judge_samples(spec, stable, stable)[0] == "success"


class TestAnalysis:
    def test_success_after_count_measurements(self):
        analysis = Analysis(ERROR_RATE)
        assert analysis.record(m("success")) == "running"
        assert analysis.record(m("success")) == "running"
        assert analysis.record(m("success")) == "successful"

    def test_first_failure_fails_with_argo_default_limit_zero(self):
        assert Analysis(ERROR_RATE).record(m("failure")) == "failed"

    def test_failure_limit_allows_that_many(self):
        spec = GateSpec(**{**ERROR_RATE.__dict__, "failure_limit": 1})
        analysis = Analysis(spec)
        assert analysis.record(m("failure")) == "running"
        assert analysis.record(m("failure")) == "failed"

    def test_inconclusive_limit(self):
        assert Analysis(ERROR_RATE).record(m("inconclusive")) == "inconclusive"

    def test_errors_do_not_count_as_measurements_and_end_after_the_consecutive_limit(self):
        analysis = Analysis(ERROR_RATE)
        for _ in range(4):
            assert analysis.record(m("error")) == "running"
        assert analysis.next_delay_seconds == 5  # min(error retry 10 s, interval 5 s)
        assert analysis.record(m("error")) == "error"

    def test_a_good_measurement_resets_the_error_streak(self):
        analysis = Analysis(ERROR_RATE)
        for verdict in ("error", "error", "error", "error", "success", "error", "error"):
            analysis.record(m(verdict))
        assert analysis.phase == "running"

    def test_combine_takes_the_worst(self):
        assert combine(["success", "inconclusive", "failure"]) == "failure"
        assert combine(["success", "error"]) == "error"
        assert combine(["success", "success"]) == "success"


class TestActions:
    @pytest.mark.parametrize(
        ("on_fail", "phase", "action"),
        [
            ("abort", "failed", "rollback"),
            ("abort", "error", "rollback"),
            ("pause", "failed", "ask"),
            ("freeze", "failed", "freeze"),
            ("retry_once", "failed", "rollback"),
            ("abort", "inconclusive", "ask"),
            ("abort", "successful", "proceed"),
        ],
    )
    def test_on_fail_policy(self, on_fail, phase, action):
        spec = GateSpec(name="g", query="x", success=Condition("<", 1), on_fail=on_fail)
        assert decide_action(spec, phase) == action

    def test_shadow_gate_never_blocks(self):
        spec = GateSpec(name="g", query="x", success=Condition("<", 1), shadow=True)
        assert decide_action(spec, "failed") == "proceed"


class TestSpec:
    def test_rendering_validates_and_quotes_inputs(self):
        rendered = ERROR_RATE.render({"service": "novacron-api"})
        assert 'service="novacron-api"' in rendered.query
        assert rendered.placeholders == {}

    def test_injection_is_refused_or_neutralised(self):
        try:
            rendered = ERROR_RATE.render({"service": 'x"} or vector(1) #'})
        except ValueError:
            return
        assert 'service="x\\"} or vector(1) #",code' in rendered.query  # one escaped string literal

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"count": 0}, "count"),
            ({"count": 3, "interval_seconds": 0}, "interval_seconds"),
            ({"on_no_data": "maybe"}, "on_no_data"),
            ({"on_fail": "panic"}, "on_fail"),
            ({"query_timeout_seconds": 0}, "query_timeout_seconds"),
            ({"success": None, "failure": None}, "success"),
            ({"failure_limit": -1}, "failure_limit"),
        ],
    )
    def test_bad_config_names_the_field(self, change, field):
        values = {**ERROR_RATE.__dict__, **change}
        with pytest.raises(GateConfigError) as raised:
            GateSpec(**values).validate()
        assert raised.value.field == field

    def test_worst_case_abort_time(self):
        # Argo's canonical example: interval 5m, failureLimit 3 -> the 4th failed sample at ~15 min
        argo = GateSpec(
            name="argo",
            query="x",
            success=Condition(">=", 0.95),
            interval_seconds=300,
            count=10,
            failure_limit=3,
            query_timeout_seconds=10,
        )
        assert argo.worst_case_abort_seconds == pytest.approx(15 * 60 + 4 * 10)
        fast = GateSpec(
            name="fast",
            query="x",
            success=Condition("<", 0.01),
            interval_seconds=10,
            count=6,
            query_timeout_seconds=5,
            error_retry_seconds=5,
            consecutive_error_limit=2,
        )
        assert fast.worst_case_abort_seconds == pytest.approx(max(5, 10 + 15))
        retried = GateSpec(**{**fast.__dict__, "on_fail": "retry_once"})
        assert retried.worst_case_abort_seconds == pytest.approx(2 * fast.worst_case_abort_seconds)
        assert fast.worst_case_verdict_seconds >= 5 * 10 + 6 * 5

    def test_round_trips_through_json_shaped_dicts(self):
        spec = GateSpec(
            name="cmp",
            query="a",
            success=Condition("<", 0.01),
            comparison=Comparison("b", "ratio", 1.2, mann_whitney=MannWhitney(min_samples=30)),
        )
        assert GateSpec.from_dict(spec.to_dict()) == spec


class TestBudget:
    def test_canary_abort_budget_comes_from_the_catalog(self):
        from novacron_runbooks.catalog import default_catalog
        from novacron_runbooks.gates.budget import budget_seconds

        assert budget_seconds(default_catalog().get("canary"), "abort_budget") == 300

    def test_gate_that_cannot_abort_in_time_is_refused_naming_the_field(self):
        from novacron_runbooks.dagkit.params import ParamError
        from novacron_runbooks.gates.budget import assert_abort_within

        slow = GateSpec(
            name="slow", query="x", success=Condition("<", 1), interval_seconds=120, count=5, failure_limit=3
        )
        fast = GateSpec(name="fast", query="x", success=Condition("<", 1), interval_seconds=15, count=8)
        assert assert_abort_within([fast], 300, "interval_seconds", action_seconds=30) < 300
        with pytest.raises(ParamError) as raised:
            assert_abort_within([fast, slow], 300, "interval_seconds", action_seconds=30)
        assert raised.value.field == "interval_seconds"
        assert "slow" in str(raised.value)
        shadow = GateSpec(**{**slow.__dict__, "shadow": True})
        assert assert_abort_within([shadow], 300, "interval_seconds") == 0.0
