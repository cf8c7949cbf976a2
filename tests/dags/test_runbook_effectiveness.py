"""End to end: the weekly effectiveness DAG reads real run reports, replaces its Pushgateway group (scraped by
the sandbox's Prometheus) and stores its plot beside the run report."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from novacron_runbooks.alerts import contract
from novacron_runbooks.dagkit.report.model import RunReport, StepResult
from novacron_runbooks.dagkit.report.render import render_json
from novacron_runbooks.dagkit.report.store import read_attachment, read_report, write_report
from novacron_runbooks.hooks.pushgateway import PushgatewayHook

pytestmark = pytest.mark.sandbox
WINDOW_END = datetime(2026, 11, 30, tzinfo=UTC)  # as_of 2026-11-30, 7 days: 23-29 November


def _history(dag_id: str, run_id: str, *, days_ago: float, minutes: float, **extra: object) -> None:
    started = WINDOW_END - timedelta(days=days_ago)
    failed = extra.pop("failed", False)
    report = RunReport(
        dag_id=dag_id,
        run_id=run_id,
        title=dag_id,
        run_type="manual",
        triggered_by="manual",
        started_at=started.isoformat(),
        finished_at=(started + timedelta(minutes=minutes)).isoformat(),
        params=extra.pop("params", {}),
        steps=[StepResult("act", "failed" if failed else "success")],
        duration_seconds=minutes * 60,
        **extra,
    )
    write_report(dag_id, run_id, {"json": render_json(report)})


@pytest.fixture
def reports_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVACRON_REPORTS_URL", f"file://{tmp_path / 'reports'}")
    _history("rollback", "manual__r1", days_ago=3, minutes=2)
    _history("rollback", "manual__r2", days_ago=2, minutes=1, failed=True)
    _history("rollback", "manual__dry", days_ago=1, minutes=1, dry_run=True)
    _history("deployment", "manual__d1", days_ago=6, minutes=45)  # budget 30 min: overran
    alert = {"alertname": "ServiceDown", "starts_at": (WINDOW_END - timedelta(days=4, minutes=5)).isoformat()}
    _history("service_down", "alert__s1", days_ago=4, minutes=3, params={"alert": alert})
    _history("restore", "manual__old", days_ago=8, minutes=10)  # before the window


def _gateway_samples(layout) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{layout.url('pushgateway')}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in {"job", "instance"}))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("job") == contract.EFFECTIVENESS_PUSH_JOB
    }


def _prometheus_value(layout, query: str, timeout: float = 30) -> float | None:
    url = f"{layout.url('prometheus')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=10) as response:
            result = json.load(response)["data"]["result"]
        if result:
            return float(result[0]["value"][1])
        time.sleep(1)
    return None


def _stale_series_in_the_group() -> None:
    """A time to resolve of a runbook with no success this week, left by an earlier push: must go."""
    registry = CollectorRegistry()
    gauge = Gauge(contract.RUNBOOK_TIME_TO_RESOLVE, "stale", ["runbook", "quantile"], registry=registry)
    gauge.labels("debug_api", "0.5").set(99)
    PushgatewayHook().push_registry(contract.EFFECTIVENESS_PUSH_JOB, registry, {"window": "7d"})


def test_weekly_run_publishes_the_figures_and_plots_them(sandbox, reports_store):
    _stale_series_in_the_group()
    dag = DagBag(dag_folder="dags/runbook_effectiveness.py").get_dag("runbook_effectiveness")
    run = dag.test(run_conf={"as_of": "2026-11-30", "window_days": 7})
    assert run.state == "success"

    samples = _gateway_samples(sandbox)
    window = ("window", "7d")
    assert samples[(contract.RUNBOOK_SUCCESS_RATIO, (("runbook", "rollback"), window))] == 0.5
    assert samples[(contract.RUNBOOK_RUNS, (("result", "dry_run"), ("runbook", "rollback"), window))] == 1
    assert samples[(contract.RUNBOOK_RUNS, (("result", "success"), ("runbook", "restore"), window))] == 0
    assert samples[(contract.RUNBOOK_OVERRUN_RUNS, (("runbook", "deployment"), window))] == 1
    ttr = (contract.RUNBOOK_TIME_TO_RESOLVE, (("quantile", "0.5"), ("runbook", "service_down"), window))
    assert samples[ttr] == 8 * 60  # from the alert's start, five minutes before the three-minute run
    assert (
        contract.RUNBOOK_TIME_TO_RESOLVE,
        (("quantile", "0.5"), ("runbook", "debug_api"), window),
    ) not in (samples)
    assert samples[(contract.RUNBOOK_WINDOW_END, (window,))] == WINDOW_END.timestamp()
    scraped = _prometheus_value(
        sandbox, f'{contract.RUNBOOK_SUCCESS_RATIO}{{runbook="rollback",window="7d"}}'
    )
    assert scraped == 0.5

    plot = read_attachment("runbook_effectiveness", run.run_id, "plot_effectiveness-7d.png")
    assert plot is not None and plot.startswith(b"\x89PNG")
    markdown = read_report("runbook_effectiveness", run.run_id, "markdown")
    assert "](files/plot_effectiveness-7d.png)" in markdown
    assert "measured deployment = " in markdown and '"overran": ["manual__d1"]' in markdown
