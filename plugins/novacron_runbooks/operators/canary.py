"""The canary's step loop as one deferrable operator: a two-hour canary holds no worker slot while it waits.

For each step below 100 % the operator sizes the canary Deployment for the step's share of ready replicas,
waits (a short poll in the worker) until it is rolled out, then defers to
:class:`~novacron_runbooks.triggers.prometheus.PrometheusGatesTrigger`, which runs the step's gates (errors
and latency, canary against stable) concurrently in the triggerer. On resume it records the measurements,
posts the verdict to Slack and goes to the next step, or stops. Reaching 100 % means promote; the operator
never promotes or rolls back itself, it returns what to do for
:func:`novacron_runbooks.dagkit.gate.route_gate`:
``{"action": "proceed" | "rollback" | "ask", "step": k, "weight": w, "phase": ..., "reason": ...}``.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import EVIDENCE_KEY, Evidence, utcnow
from novacron_runbooks.dagkit.notify import post_slack, run_label
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.canary import (
    PROMOTE_WEIGHT,
    canary_replicas,
    rendered_step_gates,
    traffic_share,
)
from novacron_runbooks.release.cluster import CANARY, ReleaseCluster, RolloutFailed
from novacron_runbooks.sensors.prometheus import decide_action
from novacron_runbooks.triggers.prometheus import PrometheusGatesTrigger

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.sdk import Context

    from novacron_runbooks.gates.spec import GateSpec

STATE_KEY = "canary_step"
"""XCom of the step being analysed while the loop is deferred: its index and when it began."""
ACTION_ORDER = ("rollback", "freeze", "ask")
"""When gates disagree, the safest action wins."""


def step_action(specs: Sequence[GateSpec], event: dict[str, Any]) -> str:
    """Combine the gates' verdicts of one step into what the runbook does next.

    Each gate's phase maps to an action by its own on-fail policy; a gate stopped early because another failed
    (still ``running``) does not vote. A trigger error or a step without any verdict rolls back: never pass
    on a missing answer.
    """
    if event.get("status") != "done":
        return "rollback"
    by_name = {spec.name: spec for spec in specs}
    actions = [
        decide_action(by_name[gate["gate"]], str(gate["phase"]))
        for gate in event.get("gates") or []
        if gate.get("phase") != "running" and gate.get("gate") in by_name
    ]
    if not actions:
        return "rollback"
    return next((action for action in ACTION_ORDER if action in actions), "proceed")


def last_reason(gate: dict[str, Any]) -> str:
    measurements = gate.get("measurements") or []
    return str(measurements[-1]["reason"]) if measurements else "stopped: another gate decided the step"


class CanaryRolloutOperator(BaseOperator):
    """Walk the canary through its traffic steps, analysing each step in the triggerer.

    :param plan: the preflight's plan (templated; an XComArg): ``stable_deployment``, ``steps``,
        ``interval_seconds``, ``analysis``, ``dry_run``.
    :param runbook: the catalog entry whose thresholds are the gates' absolute ceilings.
    :param notify_channel: Slack channel for each step's verdict (none: no message).
    :param ready_timeout_seconds: how long a step may wait for its canary pods; stuck pods abort at once.

    .. seealso:: the ``canary`` runbook page.
    """

    template_fields: Sequence[str] = ("plan",)
    ui_color = "#fdd0a2"

    def __init__(
        self,
        *,
        plan: Any,
        runbook: str = "canary",
        notify_channel: str | None = None,
        ready_timeout_seconds: float = 120.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.runbook = runbook
        self.notify_channel = notify_channel
        self.ready_timeout_seconds = ready_timeout_seconds

    # -- helpers ------------------------------------------------------------------------------------------
    def _gates(self) -> list[GateSpec]:
        return rendered_step_gates(self.plan, catalog_runbook(self.runbook))

    def _new_evidence(self, context: Context) -> Evidence:
        ti = context["ti"]
        return Evidence(step=ti.task_id, started_at=utcnow().isoformat(), dry_run=bool(self.plan["dry_run"]))

    @staticmethod
    def _keep(context: Context, evidence: Evidence) -> dict[str, Any]:
        """Push the evidence so far (a failure later still leaves it) and return it for the next resume."""
        record = asdict(evidence)
        context["ti"].xcom_push(key=EVIDENCE_KEY, value=record)
        return record

    def _notify(self, context: Context, text: str) -> None:
        if self.notify_channel and not post_slack(
            context, self.notify_channel, f"{run_label(context)}: {text}"
        ):
            self.log.warning("step verdict could not be posted to %s", self.notify_channel)

    def _finish(
        self,
        context: Context,
        evidence: Evidence,
        index: int,
        action: str,
        phase: str,
        reason: str,
        started_at: str | None = None,
    ) -> dict[str, Any]:
        """Return the loop's result; ``started_at`` is when the deciding step began (the abort's clock)."""
        weight = int(self.plan["steps"][index])
        evidence.note(f"step {index + 1} ({weight}%): {phase} → {action}; {reason}")
        evidence.verdict = action
        evidence.outcome = "success"
        evidence.finished_at = utcnow().isoformat()
        self._keep(context, evidence)
        return {
            "action": action,
            "step": index + 1,
            "weight": weight,
            "phase": phase,
            "reason": reason,
            "started_at": started_at,
        }

    @contextlib.contextmanager
    def _recorded(self, context: Context, evidence: Evidence) -> Iterator[None]:
        """Leave the evidence when the loop fails (deferring is a ``BaseException``, not a failure)."""
        try:
            yield
        except Exception as exc:
            evidence.outcome = "failed"
            evidence.error = f"{type(exc).__name__}: {exc}"
            evidence.finished_at = utcnow().isoformat()
            self._keep(context, evidence)
            raise

    # -- the loop -----------------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        evidence = self._new_evidence(context)
        with self._recorded(context, evidence):
            if self.plan["dry_run"]:
                return self._dry_run(context, evidence)
            return self._step(context, 0, evidence)

    def _step(self, context: Context, index: int, evidence: Evidence) -> Any:
        """Size the canary for step ``index``, wait for its pods, then defer to the step's analysis."""
        weight = int(self.plan["steps"][index])
        if weight >= PROMOTE_WEIGHT:
            return self._finish(context, evidence, index, "proceed", "promote", "every analysed step passed")
        started_at = utcnow().isoformat()
        cluster = ReleaseCluster()
        stable = cluster.require(self.plan["stable_deployment"])
        wanted = canary_replicas(max(stable.replicas, 1), weight)
        current = cluster.require(CANARY)
        if current.replicas != wanted:
            evidence.change(CANARY, f"step {index + 1}: replicas {current.replicas} → {wanted}", applied=True)
            cluster.scale(CANARY, wanted)
        try:
            ready = cluster.wait_rolled_out(CANARY, self.ready_timeout_seconds)
        except RolloutFailed as exc:
            evidence.measure(f"step {index + 1} rollout", str(exc), "failure")
            self._notify(context, f":red_circle: canary step {index + 1} ({weight}%) cannot start: {exc}")
            return self._finish(context, evidence, index, "rollback", "rollout-failed", str(exc), started_at)
        stable_ready = cluster.require(self.plan["stable_deployment"]).ready
        share = traffic_share(ready.ready, stable_ready)
        evidence.measure(
            f"step {index + 1} traffic share (%)",
            share,
            "success",
            requested=weight,
            canary_ready=ready.ready,
            stable_ready=stable_ready,
        )
        gates = self._gates()
        self._keep(context, evidence)
        context["ti"].xcom_push(key=STATE_KEY, value={"index": index, "started_at": started_at})
        self.defer(
            trigger=PrometheusGatesTrigger(
                [gate.to_dict() for gate in gates], label=f"step {index + 1} ({weight}%)"
            ),
            method_name="step_complete",
            timeout=timedelta(seconds=max(g.worst_case_verdict_seconds for g in gates) + 120),
        )

    def step_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Record the step's measurements and verdict, then go to the next step or stop.

        Which step and the evidence so far come from this task's own XComs (kept across a deferral), not
        from the deferral's kwargs: ``dag.test()`` replaces those with the event alone.
        """
        ti = context["ti"]
        record = ti.xcom_pull(task_ids=ti.task_id, key=EVIDENCE_KEY)
        state = ti.xcom_pull(task_ids=ti.task_id, key=STATE_KEY) or {}
        evidence = Evidence(**record) if record else self._new_evidence(context)
        with self._recorded(context, evidence):
            if "index" not in state:
                raise AirflowFailException("the canary loop resumed without knowing its step: not guessing")
            return self._judge_step(context, event, int(state["index"]), evidence, state.get("started_at"))

    def _judge_step(
        self,
        context: Context,
        event: dict[str, Any] | None,
        index: int,
        evidence: Evidence,
        started_at: str | None,
    ) -> Any:
        event = event or {"status": "error", "message": "the trigger ended without a verdict"}
        weight = int(self.plan["steps"][index])
        for gate in event.get("gates") or []:
            for m in gate.get("measurements") or []:
                evidence.measure(
                    f"step {index + 1} ({weight}%) {gate['gate']}",
                    m.get("value"),
                    m["verdict"],
                    m.get("query"),
                    at=m["at"],
                    baseline=m.get("baseline"),
                    reason=m["reason"],
                )
        action = step_action(self._gates(), event)
        if action == "rollback":
            self._stop_traffic(evidence, index)
        phase = str(event.get("phase")) if event.get("status") == "done" else "error"
        reasons = "; ".join(f"{g['gate']}: {last_reason(g)}" for g in event.get("gates") or [])
        reason = reasons or str(event.get("message", "no measurement"))
        icon = ":large_green_circle:" if action == "proceed" else ":red_circle:"
        self._notify(context, f"{icon} canary step {index + 1} ({weight}%): {phase} → {action}; {reason}")
        if action != "proceed":
            return self._finish(context, evidence, index, action, phase, reason, started_at)
        evidence.note(f"step {index + 1} ({weight}%): {phase} → proceed; {reason}")
        return self._step(context, index + 1, evidence)

    @staticmethod
    def _stop_traffic(evidence: Evidence, index: int) -> None:
        """Scale the canary to zero here, at the verdict, rather than three task hops later in abort_canary.

        Users stop reaching a bad release as soon as the gate says so; the abort task then deletes the
        Deployment and writes the history (both idempotent, so this is safe to repeat).
        """
        ReleaseCluster().scale(CANARY, 0)
        evidence.change(CANARY, f"step {index + 1} failed: replicas → 0 at the verdict", applied=True)

    # -- dry run ------------------------------------------------------------------------------------------
    def _dry_run(self, context: Context, evidence: Evidence) -> Any:
        """Plan each step from stable's replicas and measure stable against the ceilings; change nothing."""
        cluster = ReleaseCluster()
        stable = cluster.require(self.plan["stable_deployment"])
        for number, weight in enumerate(self.plan["steps"], start=1):
            if weight >= PROMOTE_WEIGHT:
                evidence.change(self.plan["stable_deployment"], f"step {number}: promote", applied=False)
                continue
            wanted = canary_replicas(max(stable.replicas, 1), weight)
            share = traffic_share(wanted, stable.replicas)
            evidence.change(
                CANARY,
                f"step {number}: scale to {wanted} next to {stable.replicas} stable ({share}% of traffic, "
                f"{weight}% asked), then analyse for {self.plan['interval_seconds']} s",
                applied=False,
            )
        evidence.note(
            "dry run: no canary runs, so canary-vs-stable is skipped; stable measured against the ceilings"
        )
        for gate in self._gates():
            if gate.comparison is None:
                continue
            baseline = replace(
                gate, name=f"{gate.name}_stable", query=gate.comparison.baseline_query, comparison=None
            )
            m = measure(
                baseline, PrometheusHook(baseline.prometheus_conn_id, timeout=baseline.query_timeout_seconds)
            )
            evidence.measure(baseline.name, m.value, m.verdict, m.query, at=m.at, reason=m.reason)
        return self._finish(
            context, evidence, len(self.plan["steps"]) - 1, "proceed", "dry-run", "nothing changed"
        )

    def on_kill(self) -> None:
        """Nothing runs outside this process: the cluster calls are synchronous and the trigger only reads."""
