"""Benchmark DAGs: N metric gates waiting at once, deferred (triggerer) and in poke mode (worker slots).

Only the benchmark's own Airflow loads this folder. A run's ``gates`` param says how many gates wait (the
growth series runs several sizes on one Airflow); ``NOVACRON_BENCH_GATES`` (default 200) is the largest.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Param, task

from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

MAX_GATES = int(os.environ.get("NOVACRON_BENCH_GATES", "200"))
MEASUREMENTS = int(os.environ.get("NOVACRON_BENCH_MEASUREMENTS", "40"))
SPEC = GateSpec(
    name="bench",
    query="sum(rate(http_requests_total{service=$service}[20s]))",
    placeholders={"service": "label_value"},
    success=Condition(">=", 0),
    interval_seconds=5,
    count=MEASUREMENTS,
)

for mode, deferrable in (("deferred", True), ("poke", False)):
    with DAG(
        dag_id=f"gate_fanout_{mode}",
        schedule=None,
        start_date=pendulum.datetime(2025, 11, 12, tz="UTC"),
        catchup=False,
        tags=["benchmark"],
        max_active_tasks=MAX_GATES,
        params={"gates": Param(MAX_GATES, type="integer", minimum=1, maximum=MAX_GATES)},
    ):

        @task
        def targets(params: dict[str, int]) -> list[dict[str, str]]:
            """One gate per requested target: the size of this run's fan-out."""
            return [{"service": "novacron-api"}] * int(params["gates"])

        PrometheusGateSensor.partial(task_id="gate", gate=SPEC, deferrable=deferrable).expand(
            values=targets()
        )
