"""The metric gate's analysis loop, run in the triggerer so a waiting gate holds no worker slot."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from novacron_runbooks.gates.judge import Analysis
from novacron_runbooks.gates.measure import ameasure
from novacron_runbooks.gates.spec import GateSpec
from novacron_runbooks.hooks.prometheus import AsyncPrometheusHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


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
            hook = AsyncPrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds)
            await asyncio.sleep(spec.initial_delay_seconds)
            while analysis.record(await ameasure(spec, hook)) == "running":
                await asyncio.sleep(analysis.next_delay_seconds)
        except Exception as exc:  # an unexpected bug must end the gate as an error, never hang or pass
            self.log.exception("gate %s failed unexpectedly", spec.name)
            yield TriggerEvent(
                {"status": "error", "message": str(exc), "attempt": self.attempt, **analysis.summary()}
            )
            return
        yield TriggerEvent({"status": "done", "attempt": self.attempt, **analysis.summary()})
