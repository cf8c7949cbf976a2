"""The trigger that analyses a canary step's gates concurrently: when it fires and with which joint phase.

Measurements are scripted (no Prometheus): each gate's verdicts come from a list, so the combination rules
are checked exactly, including that a failure ends the step without waiting for the slower gate.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from datetime import UTC, datetime

import pytest

from novacron_runbooks.gates.judge import Measurement, combine_phases
from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.triggers import prometheus as triggers
from novacron_runbooks.triggers.prometheus import PrometheusGatesTrigger


def gate(name: str, count: int = 3, **changes) -> dict:
    spec = GateSpec(
        name=name, query=name, success=Condition("<", 1), interval_seconds=0.05, count=count, **changes
    )
    return spec.validate().to_dict()


@pytest.fixture
def scripted(monkeypatch):
    """Make each gate's measurements follow a script: ``{gate: [verdict, ...]}`` (the last one repeats)."""
    scripts: dict[str, list[str]] = {}

    async def fake_measure(spec, hook):
        script = scripts[spec.name]
        verdict = script.pop(0) if len(script) > 1 else script[0]
        if verdict == "boom":
            raise RuntimeError("bug in a gate")
        return Measurement(datetime.now(tz=UTC).isoformat(), verdict, f"scripted {verdict}", spec.query, 0.0)

    monkeypatch.setattr(triggers, "ameasure", fake_measure)
    return scripts


def fire(trigger: PrometheusGatesTrigger) -> tuple[dict, float]:
    async def first() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger yielded nothing")

    started = time.monotonic()
    payload = asyncio.run(first())
    return payload, time.monotonic() - started


def phases(payload: dict) -> dict[str, str]:
    return {g["gate"]: g["phase"] for g in payload["gates"]}


def test_all_successful_fires_once_every_gate_has_its_verdict(scripted):
    scripted.update(errors=["success"], latency=["success"])
    payload, _ = fire(PrometheusGatesTrigger([gate("errors"), gate("latency", count=5)], label="step 1 (5%)"))
    assert (payload["status"], payload["phase"], payload["label"]) == ("done", "successful", "step 1 (5%)")
    assert phases(payload) == {"errors": "successful", "latency": "successful"}
    assert [g["counts"]["success"] for g in payload["gates"]] == [3, 5]


def test_a_failed_gate_ends_the_step_at_once_without_waiting_for_the_others(scripted):
    scripted.update(errors=["failure"], latency=["success"])
    slow = gate("latency", count=200)  # 200 measurements 50 ms apart: ten seconds if waited for
    payload, took = fire(PrometheusGatesTrigger([gate("errors"), slow]))
    assert payload["phase"] == "failed"
    assert phases(payload) == {"errors": "failed", "latency": "running"}
    assert took < 2


def test_inconclusive_waits_for_the_others_and_a_later_failure_wins(scripted):
    scripted.update(errors=["inconclusive"], latency=["success", "success", "failure"])
    payload, _ = fire(PrometheusGatesTrigger([gate("errors"), gate("latency")]))
    assert phases(payload) == {"errors": "inconclusive", "latency": "failed"}
    assert payload["phase"] == "failed"


def test_inconclusive_and_successful_is_inconclusive(scripted):
    scripted.update(errors=["inconclusive"], latency=["success"])
    payload, _ = fire(PrometheusGatesTrigger([gate("errors"), gate("latency")]))
    assert payload["phase"] == "inconclusive"


def test_errors_past_the_limit_end_the_step_like_a_failure(scripted):
    scripted.update(errors=["error"], latency=["success"])
    errors = gate("errors", consecutive_error_limit=1, error_retry_seconds=0.01)
    payload, took = fire(PrometheusGatesTrigger([errors, gate("latency", count=200)]))
    assert payload["phase"] == "error"
    assert took < 2


def test_a_shadow_gate_records_its_failure_but_neither_stops_nor_decides(scripted):
    scripted.update(errors=["failure"], latency=["success"])
    payload, _ = fire(PrometheusGatesTrigger([gate("errors", shadow=True), gate("latency")]))
    assert phases(payload) == {"errors": "failed", "latency": "successful"}
    assert payload["phase"] == "successful"


def test_an_unexpected_bug_is_an_error_event_never_a_pass(scripted):
    scripted.update(errors=["boom"], latency=["success"])
    payload, _ = fire(PrometheusGatesTrigger([gate("errors"), gate("latency", count=200)]))
    assert payload["status"] == "error"
    assert "bug in a gate" in payload["message"]


def test_serialize_round_trips_to_an_importable_class():
    trigger = PrometheusGatesTrigger([gate("errors"), gate("latency")], label="step 2 (25%)")
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert (rebuilt.gates, rebuilt.label) == (trigger.gates, trigger.label)
    assert [GateSpec.from_dict(g).name for g in rebuilt.gates] == ["errors", "latency"]


@pytest.mark.parametrize(
    ("given", "joint"),
    [
        ([], "successful"),
        (["successful", "successful"], "successful"),
        (["successful", "inconclusive"], "inconclusive"),
        (["inconclusive", "error"], "error"),
        (["error", "failed"], "failed"),
        (["failed", "running"], "failed"),
    ],
)
def test_combine_phases_takes_the_worst(given, joint):
    assert combine_phases(given) == joint
