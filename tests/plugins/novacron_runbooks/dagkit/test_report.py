from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.report.collect import objective_target_seconds
from novacron_runbooks.dagkit.report.model import Approval, RunReport, StepResult, TargetCheck
from novacron_runbooks.dagkit.report.render import render_json, render_junit, render_markdown
from novacron_runbooks.dagkit.report.store import read_report, safe_segment, write_report


def make_report(**overrides) -> RunReport:
    fields = {
        "dag_id": "rollback",
        "run_id": "manual__2026-11-27T08:00:00+00:00",
        "title": "Emergency rollback",
        "run_type": "manual",
        "triggered_by": "rest_api (ci-bot)",
        "started_at": "2026-11-27T08:00:00+00:00",
        "finished_at": "2026-11-27T08:01:00+00:00",
        "params": {"target_revision": "previous", "dry_run": False},
        "steps": [
            StepResult(
                "validate_params", "success", duration_seconds=0.4, evidence={"notes": ["params valid"]}
            ),
            StepResult(
                "switch_traffic",
                "success",
                duration_seconds=1.2,
                evidence={
                    "changes": [
                        {"target": "service/novacron-api", "action": "selector color=blue", "applied": True}
                    ],
                    "measurements": [
                        {
                            "name": "error_rate",
                            "value": 0.002,
                            "verdict": "pass",
                            "query": "sum(rate(x[1m]))",
                            "at": "t",
                        }
                    ],
                },
            ),
        ],
    }
    fields.update(overrides)
    return RunReport(**fields)


class TestOutcome:
    def test_all_green_is_success(self):
        assert make_report().outcome == "success"

    def test_a_failed_step_fails_the_run(self):
        report = make_report(steps=[StepResult("gate", "failed", evidence={"error": "GateFailed: 5%"})])
        assert report.outcome == "failed" and not report.succeeded

    def test_missed_objective_is_not_success(self):
        report = make_report(targets=[TargetCheck("time_to_recover_seconds", 400.0, 300.0)])
        assert report.outcome == "missed-target"

    def test_dry_run_is_reported_as_such(self):
        assert make_report(dry_run=True).outcome == "dry-run"


def test_markdown_shows_steps_changes_measurements_approvals_and_objectives():
    report = make_report(
        approvals=[Approval("approve", ["Approve"], "alice", "2026-11-27T08:00:30")],
        targets=[TargetCheck("rto_seconds", 42.0, 3600.0)],
    )
    text = render_markdown(report)
    assert "# Emergency rollback: SUCCESS" in text
    assert "changed: service/novacron-api: selector color=blue" in text
    assert "measured error_rate = 0.002 → pass `sum(rate(x[1m]))`" in text
    assert "| approve | Approve | alice |" in text
    assert "| rto_seconds | 42.0 | 3600 | yes |" in text


def test_junit_counts_failed_steps_and_missed_objectives():
    report = make_report(
        steps=[
            StepResult("a", "success"),
            StepResult("b", "failed", evidence={"error": "boom"}),
            StepResult("c", "skipped"),
        ],
        targets=[TargetCheck("rpo_seconds", 1200.0, 900.0)],
    )
    suite = ET.fromstring(render_junit(report))
    assert suite.get("tests") == "4" and suite.get("failures") == "2" and suite.get("skipped") == "1"
    failure = suite.find("./testcase[@name='b']/failure")
    assert failure is not None and failure.text == "boom"
    assert suite.find("./testcase[@name='rpo_seconds']/failure") is not None


def test_junit_timestamp_is_iso_8601_utc_without_zone():
    report = make_report(started_at="2026-11-27 12:30:05.123456+01:00")
    assert ET.fromstring(render_junit(report)).get("timestamp") == "2026-11-27T11:30:05"


def test_json_round_trips_the_outcome():
    data = json.loads(render_json(make_report()))
    assert data["outcome"] == "success" and data["run_id"].startswith("manual__")


def test_store_writes_and_reads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVACRON_REPORTS_URL", f"file://{tmp_path}")
    report = make_report()
    urls = write_report(report.dag_id, report.run_id, {"markdown": render_markdown(report)})
    assert urls["markdown"].endswith("report.md")
    assert read_report(report.dag_id, report.run_id, "markdown").startswith("# Emergency rollback")
    assert read_report(report.dag_id, "other", "markdown") is None


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_path_segments_cannot_escape_the_store(bad):
    with pytest.raises(ValueError, match="unusable"):
        safe_segment(bad)
    assert "/" not in safe_segment("../../etc/passwd")


def test_objective_targets_come_from_the_catalog():
    catalog = default_catalog()
    assert objective_target_seconds(catalog.get("dr_database_failure"), "rto_seconds") == 3600
    assert objective_target_seconds(catalog.get("dr_database_failure"), "rpo_seconds") == 900
    assert objective_target_seconds(catalog.get("rollback"), "time_to_recover_seconds") == 300
    assert objective_target_seconds(catalog.get("debug_api"), "rto_seconds") is None
