"""Metric gate analysis loops, run in the triggerer so a waiting gate holds no worker slot.

``PrometheusGateTrigger`` analyses one gate; ``PrometheusGatesTrigger`` analyses several at once (a canary
step's error and latency gates) and fires as soon as one fails.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from novacron_runbooks.gates.judge import Analysis, combine_phases
from novacron_runbooks.gates.measure import ameasure
from novacron_runbooks.gates.spec import GateSpec
from novacron_runbooks.hooks.prometheus import AsyncPrometheusHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


async def analyse(analysis: Analysis) -> None:
    """Measure ``analysis``'s gate on its schedule until the analysis has a verdict."""
    spec = analysis.spec
    hook = AsyncPrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds)
    await asyncio.sleep(spec.initial_delay_seconds)
    while analysis.record(await ameasure(spec, hook)) == "running":
        await asyncio.sleep(analysis.next_delay_seconds)


class PrometheusGateTrigger(BaseTrigger):
    """Measure a gate on its schedule until the analysis reaches a verdict, then fire one event.

    It has no side effects (it only reads Prometheus), so running it twice after a triggerer failover is
    harmless. Events: ``{"status": "done", "phase": ..., "measurements": [...]}`` or ``{"status": "error"}``.

    :param gate: the rendered :class:`GateSpec` as a dict.
    :param attempt: 1, or 2 for the repeat of a ``retry_once`` gate.
    """

    def __init__(self, gate: dict[str, Any], attempt: int = 1) -> None:
        super().__init__()
        self.gate = gate
        self.attempt = attempt

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"gate": self.gate, "attempt": self.attempt},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        spec = GateSpec.from_dict(self.gate)
        analysis = Analysis(spec)
        try:
            await analyse(analysis)
        except Exception as exc:  # an unexpected bug must end the gate as an error, never hang or pass
            self.log.exception("gate %s failed unexpectedly", spec.name)
            yield TriggerEvent(
                {"status": "error", "message": str(exc), "attempt": self.attempt, **analysis.summary()}
            )
            return
        yield TriggerEvent({"status": "done", "attempt": self.attempt, **analysis.summary()})


class PrometheusGatesTrigger(BaseTrigger):
    """Analyse several gates concurrently; fire when all have a verdict, or as soon as one fails.

    A failed (or errored) gate that is not a shadow decides the joint verdict on its own, so the others are
    cancelled rather than waited for: a bad canary is aborted at its first failed measurement. Like the
    one-gate trigger it only reads Prometheus. Events: ``{"status": "done", "phase": <joint phase>,
    "gates": [<each gate's summary>]}`` or ``{"status": "error", "message": ..., "gates": [...]}``.

    :param gates: the rendered :class:`GateSpec` of each gate, as dicts.
    :param label: what is being analysed (e.g. ``step 2 (25%)``), echoed in the event and the logs.
    """

    def __init__(self, gates: list[dict[str, Any]], label: str = "") -> None:
        super().__init__()
        self.gates = gates
        self.label = label

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"gates": self.gates, "label": self.label},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        analyses = [Analysis(GateSpec.from_dict(gate)) for gate in self.gates]
        pending = {asyncio.create_task(analyse(a), name=a.spec.name) for a in analyses}
        event: dict[str, Any] = {"status": "done"}
        try:
            while pending and not any(a.decisive for a in analyses):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    finished.result()  # re-raise an unexpected error of that gate's loop
        except Exception as exc:  # never hang or pass on a bug: the runbook treats an error as a failure
            self.log.exception("gates %s failed unexpectedly", self.label)
            event = {"status": "error", "message": str(exc)}
        finally:
            for unfinished in pending:
                unfinished.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        yield TriggerEvent({**event, **self._summary(analyses)})

    def _summary(self, analyses: list[Analysis]) -> dict[str, Any]:
        enforced = [a.phase for a in analyses if not a.spec.shadow]
        return {
            "label": self.label,
            "phase": combine_phases(enforced),
            "gates": [a.summary() for a in analyses],
        }
