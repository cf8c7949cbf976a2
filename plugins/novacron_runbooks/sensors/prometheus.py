"""The metric gate sensor: deferrable by default (the wait happens in the triggerer), poke mode on request.

It renders the gate's query from validated values, runs the analysis, records every measurement as the step's
evidence, posts the verdict to Slack, and turns the verdict into an action by the gate's on-fail policy:
``proceed``, ``rollback``, ``ask`` (a person decides: promote / hold / roll back) or ``freeze``. With
``route=False`` anything but ``proceed`` fails the task (fail closed); with ``route=True`` the action is
returned for :func:`novacron_runbooks.dagkit.gate.metric_gate` to branch on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import EVIDENCE_KEY, Evidence, utcnow
from novacron_runbooks.dagkit.notify import post_slack, run_label
from novacron_runbooks.gates.judge import Analysis
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.gates.promql import PromQLInputError
from novacron_runbooks.gates.spec import GateConfigError, GateSpec
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.triggers.prometheus import PrometheusGateTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

_ACTION_ON_FAIL = {"abort": "rollback", "retry_once": "rollback", "pause": "ask", "freeze": "freeze"}


def decide_action(spec: GateSpec, phase: str) -> str:
    """Map an analysis phase to what the runbook does next."""
    if spec.shadow or phase == "successful":
        return "proceed"
    if phase == "inconclusive":
        return "ask"
    return _ACTION_ON_FAIL[spec.on_fail]


class PrometheusGateSensor(BaseSensorOperator):
    """Gate a runbook on Prometheus metrics with Argo-style analysis semantics.

    :param gate: the gate; validated when the DAG is parsed.
    :param values: values for the gate's ``$placeholders`` (templated), validated before any query.
    :param overrides: gate fields set per run (templated), e.g. ``{"count": "{{ params.checks }}"}``; each is
        converted to the type of the field it replaces and the gate is validated again.
    :param route: return the action instead of failing on anything but ``proceed``.
    :param notify_channel: Slack channel for the verdict (none: no message).
    :param deferrable: wait in the triggerer (default) rather than in a worker slot.
    """

    template_fields = ("values", "overrides")
    ui_color = "#e6550d"

    def __init__(
        self,
        *,
        gate: GateSpec,
        values: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        route: bool = False,
        notify_channel: str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        gate.validate()
        kwargs.setdefault(
            "poke_interval", max(1.0, min(gate.interval_seconds or 1.0, gate.error_retry_seconds))
        )
        kwargs.setdefault("timeout", 2 * gate.worst_case_verdict_seconds + 120)
        super().__init__(**kwargs)
        self.gate = gate
        self.values = values or {}
        self.overrides = overrides or {}
        self.route = route
        self.notify_channel = notify_channel
        self.deferrable = deferrable
        self._analysis: Analysis | None = None
        self._next_at = 0.0

    def _spec(self) -> GateSpec:
        try:
            gate = self.gate
            if self.overrides:
                changes: dict[str, Any] = {}
                for name, value in self.overrides.items():
                    current = getattr(gate, name, None)
                    if not isinstance(current, int | float) or isinstance(current, bool):
                        raise GateConfigError(
                            gate.name, name, "only numeric fields can be overridden per run"
                        )
                    try:
                        changes[name] = type(current)(value)
                    except (TypeError, ValueError) as exc:
                        raise GateConfigError(gate.name, name, f"{value!r} is not a number") from exc
                gate = replace(gate, **changes)
            return gate.render(self.values)
        except (GateConfigError, PromQLInputError) as exc:
            raise AirflowFailException(f"gate {self.gate.name!r} refused its input: {exc}") from exc

    def _defer(self, spec: GateSpec, attempt: int) -> None:
        self.defer(
            trigger=PrometheusGateTrigger(spec.to_dict(), attempt=attempt),
            method_name="execute_complete",
            kwargs={"attempt": attempt},
            timeout=timedelta(seconds=spec.worst_case_verdict_seconds + 120),
        )

    def execute(self, context: Context) -> Any:
        spec = self._spec()
        self.timeout = max(float(self.timeout or 0), 2 * spec.worst_case_verdict_seconds + 120)
        if self.deferrable:
            self._defer(spec, attempt=1)
        return self._run_in_worker(context, spec, attempt=1)

    def _run_in_worker(self, context: Context, spec: GateSpec, attempt: int) -> Any:
        self._analysis = Analysis(spec)
        self._next_at = time.monotonic() + spec.initial_delay_seconds
        payload = super().execute(context)
        return self._finish(context, {"status": "done", "attempt": attempt, **payload}, attempt)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        assert self._analysis is not None
        if time.monotonic() < self._next_at:
            return False
        spec = self._analysis.spec
        hook = PrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds)
        if self._analysis.record(measure(spec, hook)) == "running":
            self._next_at = time.monotonic() + self._analysis.next_delay_seconds
            return False
        return PokeReturnValue(True, self._analysis.summary())

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, attempt: int = 1
    ) -> Any:
        if not event:
            raise AirflowFailException(f"gate {self.gate.name!r}: the trigger ended without a verdict")
        if event.get("status") == "error":
            event = {**event, "phase": "error"}
        return self._finish(context, event, attempt)

    def _finish(self, context: Context, event: dict[str, Any], attempt: int) -> Any:
        spec = self._spec()
        phase = str(event.get("phase"))
        if phase in ("failed", "error") and spec.on_fail == "retry_once" and attempt == 1 and not spec.shadow:
            self.log.warning("gate %s %s on the first attempt; analysing once more", spec.name, phase)
            self._record(context, spec, event, "retry")
            if self.deferrable:
                self._defer(spec, attempt=2)
            return self._run_in_worker(context, spec, attempt=2)
        action = decide_action(spec, phase)
        self._record(context, spec, event, action)
        result = {
            "gate": spec.name,
            "phase": phase,
            "action": action,
            "shadow": spec.shadow,
            "attempt": attempt,
        }
        if action != "proceed" and not self.route:
            raise AirflowFailException(
                f"gate {spec.name!r} {phase} (action {action}): {self._last_reason(event)}"
            )
        return result

    @staticmethod
    def _last_reason(event: dict[str, Any]) -> str:
        measurements = event.get("measurements") or []
        return (
            str(measurements[-1]["reason"]) if measurements else str(event.get("message", "no measurement"))
        )

    def _record(self, context: Context, spec: GateSpec, event: dict[str, Any], action: str) -> None:
        """Leave the measurements as this step's evidence and post the verdict."""
        ti = context["ti"]
        evidence = Evidence(
            step=ti.task_id, started_at=str(ti.start_date), dry_run=bool(context["params"].get("dry_run"))
        )
        for m in event.get("measurements") or []:
            evidence.measure(
                spec.name, m.get("value"), m["verdict"], m.get("query"), at=m["at"], reason=m["reason"]
            )
        shadow = " (shadow: recorded, not enforced)" if spec.shadow else ""
        summary = f"gate {spec.name}: {event.get('phase')} → {action}{shadow}; {self._last_reason(event)}"
        evidence.note(summary)
        evidence.verdict = action
        evidence.outcome = "success"
        evidence.finished_at = utcnow().isoformat()
        ti.xcom_push(key=EVIDENCE_KEY, value=asdict(evidence))
        if self.notify_channel:
            icon = ":large_green_circle:" if action == "proceed" else ":red_circle:"
            post_slack(context, self.notify_channel, f"{icon} {run_label(context)}: {summary}")
