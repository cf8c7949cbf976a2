"""The canary's plan: replicas per traffic step, each step's gates, the worst-case abort time, the checks.

Traffic share follows ready replicas: the Service selects stable and canary pods alike and picks one ready pod
per request, so ``c`` canary pods next to ``S`` stable pods get ``c / (S + c)`` of the requests. Stable keeps
its replicas; the canary is sized for each step, and the share it really gets (whole pods) is recorded next to
the share asked for.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.gates.budget import assert_abort_within, budget_seconds
from novacron_runbooks.hooks.prometheus import PrometheusError, PrometheusHook
from novacron_runbooks.release.gates import (
    API_JOB,
    SCRAPES_PER_WINDOW,
    CanaryAnalysis,
    canary_gate_values,
    canary_gates,
    measurement_spacing,
    min_interval_seconds,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.dagkit.params import ParamCheck
    from novacron_runbooks.gates.spec import GateSpec

PROMOTE_WEIGHT = 100
ABORT_ACTION_SECONDS = 30.0
"""Time from a failed verdict until the canary serves no traffic: the loop resumes, the route and abort tasks
run (a second or two of scheduling each) and the canary is scaled to zero (its pods leave the Service's
endpoints as they terminate). An estimate, checked by the abort test, that the budget check adds to the
analysis' own worst case."""


def canary_replicas(stable: int, weight: int) -> int:
    """Canary pods next to ``stable`` stable pods for ``weight`` % of the traffic: at least one pod.

    ``c / (S + c) = w / 100`` gives ``c = S * w / (100 - w)``, rounded half up to whole pods.
    """
    if not 0 < weight < PROMOTE_WEIGHT:
        raise ValueError(f"a canary step is a share in (0, 100), not {weight}")
    if stable < 1:
        raise ValueError("stable must run at least one replica to split traffic with")
    return max(1, math.floor(stable * weight / (PROMOTE_WEIGHT - weight) + 0.5))


def traffic_share(canary_ready: int, stable_ready: int) -> float:
    """Percentage of requests the canary gets from a Service choosing uniformly among ready pods."""
    total = canary_ready + stable_ready
    return 0.0 if total == 0 else round(100.0 * canary_ready / total, 1)


def step_plan(stable: int, steps: Sequence[int]) -> list[dict[str, Any]]:
    """Each step's canary size and the share it will really get; the 100 % step is the promotion."""
    plan = []
    for number, weight in enumerate(steps, start=1):
        if weight >= PROMOTE_WEIGHT:
            plan.append({"step": number, "weight": weight, "canary_replicas": None, "share": 100.0})
            continue
        replicas = canary_replicas(stable, weight)
        plan.append(
            {
                "step": number,
                "weight": weight,
                "canary_replicas": replicas,
                "share": traffic_share(replicas, stable),
            }
        )
    return plan


def analysis_of(values: Mapping[str, Any]) -> CanaryAnalysis:
    return CanaryAnalysis.from_param(dict(values["analysis"]))


def step_gates(values: Mapping[str, Any], runbook: Runbook) -> list[GateSpec]:
    """Build one step's gates (errors, latency) with the catalog's absolute ceilings."""
    return canary_gates(
        int(values["interval_seconds"]),
        analysis_of(values),
        runbook.threshold("error_rate").value,
        runbook.threshold("latency_p95").value,
    )


def rendered_step_gates(values: Mapping[str, Any], runbook: Runbook) -> list[GateSpec]:
    """One step's gates with their placeholders filled in (the rate window is the measurement spacing)."""
    analysis = analysis_of(values)
    spacing = measurement_spacing(int(values["interval_seconds"]), analysis)
    gate_values = canary_gate_values(spacing, analysis)
    return [gate.render(gate_values) for gate in step_gates(values, runbook)]


def worst_case_abort_seconds(values: Mapping[str, Any], runbook: Runbook) -> float:
    """From the start of a step's analysis to a canary serving no traffic, in the worst case."""
    gates = step_gates(values, runbook)
    return max(gate.worst_case_abort_seconds for gate in gates) + ABORT_ACTION_SECONDS


# -- param checks (validate_params runs them before anything changes) -------------------------------------
def check_steps(values: Mapping[str, Any]) -> None:
    """Require steps strictly increasing and ending at 100, with at least one analysed step before it."""
    steps = list(values["steps"])
    for before, after in zip(steps, steps[1:], strict=False):
        if after <= before:
            raise ParamError("steps", f"{steps} must be strictly increasing ({before} then {after})")
    if not steps or steps[-1] != PROMOTE_WEIGHT:
        raise ParamError("steps", f"{steps} must end at 100 (the promotion)")
    if len(steps) < 2:
        raise ParamError("steps", "needs a step under 100: a canary that nobody analyses is a deployment")


def check_abort_budget(runbook: Runbook) -> ParamCheck:
    """Refuse an interval and analysis whose worst-case abort exceeds the catalog's ``abort_budget``."""

    def check(values: Mapping[str, Any]) -> None:
        assert_abort_within(
            step_gates(values, runbook),
            budget_seconds(runbook, "abort_budget"),
            "interval_seconds",
            action_seconds=ABORT_ACTION_SECONDS,
        )

    return check


def check_scrape_interval(values: Mapping[str, Any]) -> None:
    """Refuse an interval whose measurements span too few scrapes; an unreachable Prometheus refuses too.

    The scrape interval is read from the Prometheus the gates will query (run time, never parse time).
    """
    analysis = analysis_of(values)
    try:
        scrape = PrometheusHook().scrape_interval_seconds(API_JOB)
    except PrometheusError as exc:
        raise ParamError(
            "interval_seconds",
            f"cannot be checked against the scrape interval of job {API_JOB!r}: {exc}; "
            "refusing to start a canary whose gates could not measure",
        ) from exc
    shortest = min_interval_seconds(scrape, analysis)
    if int(values["interval_seconds"]) < shortest:
        raise ParamError(
            "interval_seconds",
            f"{values['interval_seconds']} s is too short for the scrape interval: Prometheus scrapes "
            f"{API_JOB!r} every {scrape:g} s and each of a step's {analysis.failure_limit + 1} measurements "
            f"needs a window of {SCRAPES_PER_WINDOW} scrapes, so a step needs at least {shortest} s",
        )
