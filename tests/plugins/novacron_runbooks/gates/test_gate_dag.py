"""A runbook DAG with a metric gate, against the sandbox's real Prometheus and the API stand-in.

Each case checks which branch the run took: proceed, rollback, freeze, or a person's decision.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest
from dag_runner import respond_when_asked, run_dag, task_states
from tcp_proxy import TcpProxy

from novacron_runbooks.catalog import scheduled_job
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.gate import metric_gate
from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.gates.spec import Condition, GateSpec
from novacron_runbooks.hooks.prometheus import PrometheusHook
from sandbox.faults import set_fault

pytestmark = pytest.mark.sandbox

# "or vector(0)": a healthy service has no 5xx series at all, which must read as 0 errors, not as no data;
# no traffic (an empty denominator) still gives no data, and fails closed.
ERROR_RATIO = (
    '(sum(rate(http_requests_total{service=$service,code=~"5.."}[20s])) or vector(0))'
    " / sum(rate(http_requests_total{service=$service}[20s]))"
)
BASE = GateSpec(
    name="errors",
    query=ERROR_RATIO,
    placeholders={"service": "label_value"},
    success=Condition("<", 0.05),
    failure=Condition(">", 0.15),
    interval_seconds=2,
    count=2,
    query_timeout_seconds=5,
    error_retry_seconds=1,
    consecutive_error_limit=1,
)


def gate(**changes) -> GateSpec:
    return GateSpec(**{**BASE.__dict__, **changes})


def build(spec: GateSpec, dag_id: str = "gate_probe"):
    import dataclasses

    runbook = dataclasses.replace(scheduled_job("runbook_review"), name=dag_id, title="Gate probe", params={})
    with runbook_dag(dag_id, runbook=runbook) as rb:

        @runbook_step(task_id="promote")
        def promote() -> None:
            current_evidence().change("novacron-api", "promote", applied=True)

        @runbook_step(task_id="roll_back")
        def roll_back() -> None:
            current_evidence().change("novacron-api", "roll back", applied=True)

        metric_gate(spec, on_proceed=promote(), on_rollback=roll_back(), values={"service": "novacron-api"})
    return rb.dag


def _wait_for_ratio(predicate, timeout: float = 60) -> float:
    hook = PrometheusHook()
    query = BASE.render({"service": "novacron-api"}).query
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        values = hook.query(query).values
        if values and predicate(values[0]):
            return values[0]
        time.sleep(1)
    raise AssertionError(f"error ratio never satisfied the predicate within {timeout}s")


@pytest.fixture
def healthy(sandbox):
    set_fault(sandbox, {"clear": True})
    _wait_for_ratio(lambda v: v < 0.01)
    return sandbox


@pytest.fixture
def erroring(sandbox):
    set_fault(sandbox, {"error_rate": 0.4})
    _wait_for_ratio(lambda v: v > 0.2)
    yield sandbox
    set_fault(sandbox, {"clear": True})


def test_healthy_service_passes_and_promotes(healthy):
    run = run_dag(build(BASE))
    states = task_states(run)
    assert run.state == "success"
    assert states["promote"] == "success"
    assert states["roll_back"] == "skipped"
    report = read_report("gate_probe", run.run_id, "markdown")
    assert "gate errors: successful → proceed" in report
    assert 'service=\\"novacron-api\\"' in report or 'service="novacron-api"' in report


def test_erroring_service_fails_the_gate_and_rolls_back(erroring):
    run = run_dag(build(BASE))
    states = task_states(run)
    assert states["roll_back"] == "success"
    assert states["promote"] == "skipped"
    assert run.state == "failed"  # the run report fails a rolled-back run
    assert "ROLLED-BACK" in read_report("gate_probe", run.run_id, "markdown")


def test_poke_mode_reaches_the_same_verdict(erroring):
    dag = build(BASE)
    dag.get_task("gate_errors").deferrable = False
    run = run_dag(dag)
    assert task_states(run)["roll_back"] == "success"


def test_shadow_gate_records_the_failure_but_proceeds(erroring):
    run = run_dag(build(gate(shadow=True)))
    assert task_states(run)["promote"] == "success"
    assert run.state == "success"
    assert "shadow: recorded, not enforced" in read_report("gate_probe", run.run_id, "markdown")


def test_freeze_stops_without_rolling_back(erroring):
    run = run_dag(build(gate(on_fail="freeze")))
    states = task_states(run)
    assert states["freeze_errors"] == "failed"
    assert states["roll_back"] == "skipped"
    assert states["promote"] == "skipped"


@pytest.mark.parametrize(("choice", "ran"), [("Roll back", "roll_back"), ("Promote", "promote")])
def test_inconclusive_asks_a_person_and_follows_the_answer(sandbox, choice, ran):
    # success needs < 0.02, failure needs > 0.30: a steady 10% error rate satisfies neither, whatever the
    # random traffic of one 20 s window (a band as narrow as 5-15% was left by chance under load)
    set_fault(sandbox, {"error_rate": 0.1})
    try:
        _wait_for_ratio(lambda v: 0.07 < v < 0.13)
        answered = respond_when_asked("gate_probe", "decide_errors", choice)
        run = run_dag(build(gate(count=1, success=Condition("<", 0.02), failure=Condition(">", 0.30))))
    finally:
        set_fault(sandbox, {"clear": True})
    states = task_states(run)
    assert answered["run_id"] == run.run_id
    assert states["decide_errors"] == "success"
    assert states[ran] == "success"
    assert states["freeze_errors"] == "skipped"
    report = read_report("gate_probe", run.run_id, "markdown")
    assert f"| decide_errors | {choice} | sre-oncall |" in report
    assert run.state == ("failed" if choice == "Roll back" else "success")


def test_no_data_fails_closed(healthy):
    spec = gate(query="sum(rate(no_such_metric_total{service=$service}[1m]))")
    run = run_dag(build(spec))
    assert task_states(run)["roll_back"] == "success"
    assert "no data (policy: fail)" in read_report("gate_probe", run.run_id, "markdown")


def test_nan_fails_closed(healthy):
    spec = gate(query='sum(rate(http_requests_total{service=$service,code="999"}[20s])) / 0')
    run = run_dag(build(spec))
    assert task_states(run)["roll_back"] == "success"


def test_prometheus_down_mid_analysis_is_an_error_not_a_pass(healthy, monkeypatch):
    target = urlparse(healthy.url("prometheus")).port
    with TcpProxy(target) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_NOVACRON_PROMETHEUS",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": proxy.port, "schema": "http"}),
        )
        proxy.cut_after(connections=1, grace=1.0)  # Prometheus answers the first measurement, then goes away
        run = run_dag(build(gate(count=6, interval_seconds=3)))
    states = task_states(run)
    assert states["roll_back"] == "success"
    report = read_report("gate_probe", run.run_id, "markdown")
    assert "→ success" in report  # measured fine before the cut
    assert "error" in report


def test_slow_prometheus_times_out_as_errors(healthy, monkeypatch):
    target = urlparse(healthy.url("prometheus")).port
    with TcpProxy(target, delay=3.0) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_NOVACRON_PROMETHEUS",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": proxy.port, "schema": "http"}),
        )
        run = run_dag(build(gate(query_timeout_seconds=1)))
    assert task_states(run)["roll_back"] == "success"


def test_malicious_label_value_cannot_inject_promql(healthy):
    """An alert label or param crafted to close the selector and add `or vector(1)` (which would pass)."""
    dag = build(BASE)
    dag.get_task("gate_errors").values = {"service": 'x"} or vector(1) #'}
    run = run_dag(dag)
    states = task_states(run)
    assert states["promote"] != "success"
    report = read_report("gate_probe", run.run_id, "markdown")
    if states["gate_errors"] == "failed":  # refused outright
        assert "refused its input" in report
    else:  # or quoted into a literal that matches no series: no data, which fails closed
        assert states["roll_back"] == "success"
        assert "no data (policy: fail)" in report
