"""Analyse a step's gates in the worker, concurrently, ending at the first decisive failure.

The same rules as the gate sensor and the canary's trigger (:class:`~novacron_runbooks.gates.judge.Analysis`,
Argo Rollouts' limits), in a plain loop: a scaling step's gates take seconds to a couple of minutes, and the
step that follows must not start before the verdict, so the task waits for it itself. The result has the
shape of :class:`~novacron_runbooks.triggers.prometheus.PrometheusGatesTrigger`'s event, so
:func:`~novacron_runbooks.operators.canary.step_action` turns it into what to do.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.dagkit.notify import post_slack, run_label
from novacron_runbooks.gates.judge import Analysis, combine_phases
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.operators.canary import last_reason, step_action

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.gates.spec import GateSpec


def analyse(specs: list[GateSpec], sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Measure every gate on its own schedule until all have a verdict or one failed decisively."""
    analyses = [Analysis(spec) for spec in specs]
    hooks = [PrometheusHook(s.prometheus_conn_id, timeout=s.query_timeout_seconds) for s in specs]
    start = time.monotonic()
    due = [start + spec.initial_delay_seconds for spec in specs]
    while not any(a.decisive for a in analyses):
        running = [i for i, a in enumerate(analyses) if a.phase == "running"]
        if not running:
            break
        now = time.monotonic()
        ready = [i for i in running if due[i] <= now]
        if not ready:
            sleep(min(due[i] for i in running) - now)
            continue
        for i in ready:
            analyses[i].record(measure(analyses[i].spec, hooks[i]))
            due[i] = time.monotonic() + analyses[i].next_delay_seconds
    enforced = [a.phase for a in analyses if not a.spec.shadow]
    return {"status": "done", "phase": combine_phases(enforced), "gates": [a.summary() for a in analyses]}


def judge_step(specs: list[GateSpec], label: str, channel: str) -> tuple[str, str]:
    """Analyse one step's gates, record every measurement, post the verdict; return (action, why)."""
    event = analyse(specs)
    evidence = current_evidence()
    reasons = []
    for gate in event["gates"]:
        for m in gate["measurements"]:
            evidence.measure(
                gate["gate"],
                m.get("value"),
                m["verdict"],
                m.get("query"),
                at=m["at"],
                reason=m["reason"],
                step=label,
            )
        reasons.append(f"{gate['gate']} {gate['phase']} ({last_reason(gate)})")
    action = step_action(specs, event)
    why = "; ".join(reasons)
    evidence.note(f"{label}: gates {event['phase']} → {action}: {why}")
    context = get_current_context()
    icon = ":large_green_circle:" if action == "proceed" else ":red_circle:"
    post_slack(context, channel, f"{icon} {run_label(context)}: {label}: gates {event['phase']} → {action}")
    return action, why


def current_value(spec: GateSpec, label: str) -> float:
    """One reading of a gate's query now (the highest series); no data, NaN or no Prometheus raises.

    Recorded as ``<gate>_<label>`` with the verdict against the gate's ceiling: a step is never judged
    against, nor a run ended on, a reading that is not there.
    """
    result = measure(spec, PrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds))
    values = result.value if isinstance(result.value, list) else [result.value]
    current_evidence().measure(
        f"{spec.name}_{label}", result.value, result.verdict, result.query, reason=result.reason
    )
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if result.verdict == "error" or not finite or len(finite) != len(values):
        raise AirflowFailException(
            f"{spec.name}: no usable reading {label} ({result.reason}); not scaling blind"
        )
    return max(finite)
