"""Effectiveness figures from run records: success rate, quantiles, overruns, dry runs, windows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from novacron_runbooks.alerts import contract
from novacron_runbooks.dagkit.report.model import RunReport, StepResult
from novacron_runbooks.dagkit.report.render import render_json
from novacron_runbooks.dagkit.report.store import write_report
from novacron_runbooks.effectiveness.history import RunRecord, Window, record_from_report, run_history
from novacron_runbooks.effectiveness.metrics import effectiveness_registry
from novacron_runbooks.effectiveness.plot import effectiveness_png
from novacron_runbooks.effectiveness.stats import figures_of, quantile, summarize

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def record(
    run_id: str,
    minutes: float,
    outcome: str = "success",
    *,
    at: datetime = T0,
    alert_minutes_before: float | None = None,
    **flags: bool,
) -> RunRecord:
    alert = None if alert_minutes_before is None else at - timedelta(minutes=alert_minutes_before)
    return RunRecord(run_id, at, at + timedelta(minutes=minutes), outcome, alert_started=alert, **flags)


def stored_report(run_id: str, started: datetime, *, minutes: float = 2, **extra: object) -> RunReport:
    fields: dict = {
        "dag_id": "rollback",
        "run_id": run_id,
        "title": "Rollback",
        "run_type": "manual",
        "triggered_by": "manual",
        "started_at": str(started),
        "finished_at": (started + timedelta(minutes=minutes)).isoformat(),
        "params": {},
        "steps": [StepResult("act", "success")],
        "duration_seconds": minutes * 60,
    }
    return RunReport(**{**fields, **extra})


class TestQuantile:
    def test_linear_interpolation_between_ranks(self):
        values = [40.0, 10.0, 30.0, 20.0]
        assert quantile(values, 0.5) == 25.0
        assert quantile(values, 0.9) == pytest.approx(37.0)
        assert quantile(values, 0.0) == 10.0
        assert quantile(values, 1.0) == 40.0
        assert quantile([7.0], 0.9) == 7.0

    def test_refuses_no_values_and_bad_quantiles(self):
        with pytest.raises(ValueError, match="no values"):
            quantile([], 0.5)
        with pytest.raises(ValueError, match="within 0..1"):
            quantile([1.0], 1.5)


class TestSummarize:
    def test_success_rate_time_to_resolve_and_overrun(self):
        records = [
            record("r1", 2),
            record("r2", 4),
            record("r3", 10),  # 10 min against a 5 min budget: overran, yet resolved
            record("r4", 1, "failed"),
            record("r5", 3, "rolled-back"),  # Airflow fails the run: not a success
        ]
        figures = summarize("rollback", 300, records)
        assert (figures.runs, figures.successes, figures.failures) == (5, 3, 2)
        assert figures.success_ratio == pytest.approx(0.6)
        assert figures.time_to_resolve == {"0.5": 240.0, "0.9": pytest.approx(528.0)}  # 240 + 0.8 * 360
        assert figures.failed_runs == ["r4", "r5"]
        assert figures.overrun_runs == ["r3"]
        assert figures.attention

    def test_dry_runs_and_false_alarms_are_counted_apart(self):
        records = [
            record("dry", 50, dry_run=True),
            record("dry-failed", 1, "failed", dry_run=True),
            record("false", 0.5, false_alarm=True),
            record("real", 6),
        ]
        figures = summarize("high_latency", 900, records)
        assert (figures.runs, figures.successes, figures.dry_runs, figures.false_alarms) == (1, 1, 2, 1)
        assert figures.success_ratio == 1.0
        assert figures.time_to_resolve == {"0.5": 360.0, "0.9": 360.0}
        assert not figures.attention

    def test_time_to_resolve_starts_at_the_alert_but_overrun_uses_the_run(self):
        figures = summarize("service_down", 600, [record("a", 8, alert_minutes_before=7)])
        assert figures.time_to_resolve["0.5"] == 15 * 60
        assert figures.overrun_runs == []

    def test_nothing_to_measure(self):
        figures = summarize("backup", None, [record("long", 600), record("dry", 1, dry_run=True)])
        assert figures.overrun_runs == []  # no budget in the catalog
        empty = summarize("debug_api", None, [])
        assert empty.success_ratio is None and empty.time_to_resolve == {}
        shown = figures_of(empty)
        assert shown["success_ratio"] is None and "time_to_resolve_p50_seconds" not in shown


class TestRecords:
    def test_report_json_becomes_a_record_with_the_alert_start(self):
        started = T0 + timedelta(hours=1)
        alert = {"alertname": "ServiceDown", "starts_at": "2026-11-23T00:50:00Z"}
        report = stored_report("alert__1", started, params={"alert": alert, "dry_run": False})
        found = record_from_report(json.loads(render_json(report)))
        assert found.alert_started == datetime(2026, 11, 23, 0, 50, tzinfo=UTC)
        assert found.duration_seconds == 120 and found.resolve_seconds == 720
        assert found.outcome == "success" and not found.false_alarm

    @pytest.mark.parametrize("starts_at", ["2026-11-23T01:30:00Z", "yesterday", ""])
    def test_an_alert_start_after_the_run_or_unreadable_is_not_believed(self, starts_at):
        report = stored_report("r", T0 + timedelta(hours=1), params={"alert": {"starts_at": starts_at}})
        assert record_from_report(json.loads(render_json(report))).alert_started is None

    def test_false_alarm_and_dry_run_come_from_the_report(self):
        confirm = StepResult("confirm", "skipped", evidence={"verdict": "false alarm"})
        report = stored_report("fa", T0, steps=[confirm], dry_run=True)
        found = record_from_report(json.loads(render_json(report)))
        assert found.false_alarm and found.dry_run and found.outcome == "dry-run"


class TestWindow:
    def test_start_is_inside_end_is_not(self, tmp_path, monkeypatch):
        monkeypatch.setenv("NOVACRON_REPORTS_URL", f"file://{tmp_path}")
        end = T0 + timedelta(days=7)
        for run_id, started in {
            "before": T0 - timedelta(seconds=1),
            "first": T0,
            "last": end - timedelta(seconds=1),
            "at_end": end,
        }.items():
            write_report("rollback", run_id, {"json": render_json(stored_report(run_id, started))})
        write_report("rollback", "broken", {"json": "{not json"})
        write_report("rollback", "no_times", {"json": json.dumps({"run_id": "no_times"})})
        found = run_history("rollback", Window(T0, end, "7d"))
        assert [r.run_id for r in found] == ["first", "last"]
        assert [r.run_id for r in run_history("rollback", Window(T0))] == ["first", "last", "at_end"]
        assert run_history("never_ran", Window(T0)) == []


class TestPublished:
    def test_registry_holds_defined_figures_only(self):
        figures = [
            summarize(
                "rollback", 300, [record("r1", 2), record("r2", 1, "failed"), record("d", 1, dry_run=True)]
            ),
            summarize("debug_api", None, []),
        ]
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for metric in effectiveness_registry(figures, T0).collect()
            for s in metric.samples
        }
        assert samples[(contract.RUNBOOK_SUCCESS_RATIO, (("runbook", "rollback"),))] == 0.5
        ttr = (contract.RUNBOOK_TIME_TO_RESOLVE, (("quantile", "0.5"), ("runbook", "rollback")))
        assert samples[ttr] == 120.0
        assert samples[(contract.RUNBOOK_RUNS, (("result", "dry_run"), ("runbook", "rollback")))] == 1
        assert samples[(contract.RUNBOOK_RUNS, (("result", "success"), ("runbook", "debug_api")))] == 0
        assert samples[(contract.RUNBOOK_TIME_BUDGET, (("runbook", "rollback"),))] == 300
        assert samples[(contract.RUNBOOK_WINDOW_END, ())] == T0.timestamp()
        assert (contract.RUNBOOK_SUCCESS_RATIO, (("runbook", "debug_api"),)) not in samples
        assert (contract.RUNBOOK_TIME_BUDGET, (("runbook", "debug_api"),)) not in samples

    def test_plot_is_a_png_with_and_without_runs(self):
        figures = [summarize("rollback", 300, [record("r1", 2), record("r2", 1, "failed")])]
        assert effectiveness_png(figures, "week").startswith(b"\x89PNG")
        assert effectiveness_png([summarize("debug_api", None, [])], "empty week").startswith(b"\x89PNG")
