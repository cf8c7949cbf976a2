"""The gate's trigger and the sensor's deferral, against the sandbox's real Prometheus."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from airflow.sdk.exceptions import TaskDeferred

from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor
from novacron_runbooks.triggers.prometheus import PrometheusGateTrigger

SPEC = GateSpec(name="always_zero", query="vector(0)", success=Condition("<", 1), interval_seconds=1, count=2)


def test_serialize_round_trips_to_an_importable_class():
    classpath, kwargs = PrometheusGateTrigger(SPEC.to_dict()).serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.gate == SPEC.to_dict()
    assert GateSpec.from_dict(rebuilt.gate) == SPEC


async def _first_event(trigger: PrometheusGateTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger yielded nothing")


@pytest.mark.sandbox
def test_trigger_measures_until_a_verdict(sandbox):
    payload = asyncio.run(_first_event(PrometheusGateTrigger(SPEC.to_dict())))
    assert payload["status"] == "done"
    assert payload["phase"] == "successful"
    assert payload["counts"]["success"] == 2
    assert [m["value"] for m in payload["measurements"]] == [0.0, 0.0]


@pytest.mark.sandbox
def test_trigger_reports_an_unreachable_prometheus_as_error(sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOVACRON_PROMETHEUS", '{"conn_type": "http", "host": "127.0.0.1", "port": 9}'
    )
    spec = GateSpec(**{**SPEC.__dict__, "consecutive_error_limit": 1, "error_retry_seconds": 0.2})
    payload = asyncio.run(_first_event(PrometheusGateTrigger(spec.to_dict())))
    assert payload["phase"] == "error"
    assert payload["counts"]["error"] == 2


def test_sensor_defers_to_the_trigger_with_a_bounded_timeout():
    sensor = PrometheusGateSensor(task_id="gate", gate=SPEC)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # rendering needs no context; the gate defers before measuring anything
    assert isinstance(deferred.value.trigger, PrometheusGateTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == pytest.approx(SPEC.worst_case_verdict_seconds + 120)


def test_bad_gate_config_fails_at_parse_time():
    with pytest.raises(ValueError, match="count"):
        PrometheusGateSensor(
            task_id="gate", gate=GateSpec(name="g", query="up", success=Condition("<", 1), count=0)
        )
