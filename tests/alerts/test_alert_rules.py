"""The generated alert rules: committed file = catalog, valid for promtool, unit-tested, tied to the catalog.

The promtool tests skip only where ``promtool`` is not on PATH (CI installs Debian's ``prometheus`` package);
the live check against the sandbox's Prometheus runs with the other sandbox tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from novacron_runbooks.alerts.__main__ import main
from novacron_runbooks.alerts.contract import (
    BACKUP_LAST_SUCCESS,
    BACKUP_LAST_VERIFIED,
    VALIDATION_LAST_SUCCESS,
    VALIDATION_PASSED,
)
from novacron_runbooks.alerts.render import RENDER_COMMAND, RULES_FILE, default_out_dir, drift, render
from novacron_runbooks.alerts.rules import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    AlertRuleError,
    build_rules,
    duration,
    unlisted_alerts,
)
from novacron_runbooks.alerts.specs import SPECS
from novacron_runbooks.catalog import load_catalog, scheduled_job
from novacron_runbooks.paths import runbooks_dir

REPO = Path(__file__).resolve().parents[2]
ALERTS = default_out_dir()
RULES = ALERTS / RULES_FILE
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (Debian package prometheus; CI installs it)"
)
METRIC_IN_EXPR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)(?=\{|\[)")
BOUNDS = [
    (load_catalog().by_alert(spec.alert).name, spec.threshold, spec.alert) for spec in SPECS if spec.threshold
]
"""(runbook, threshold, alert) of every rule that takes its bound from the catalog."""


@pytest.fixture(autouse=True)
def default_base_url(monkeypatch):
    """The committed file is rendered with the default link base; a developer's override must not leak in."""
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture
def catalog_copy(tmp_path):
    """A scratch copy of include/runbooks and a helper that edits one definition's YAML."""
    folder = tmp_path / "runbooks"
    shutil.copytree(runbooks_dir(), folder)

    def edit(name, change):
        path = folder / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    return folder, edit


def rule_of(rules, alert, threshold=None):
    [rule] = [r for r in rules if r.alert == alert and r.labels.get("threshold") == threshold]
    return rule


def test_committed_file_equals_what_the_catalog_generates(catalog):
    diff = drift(render(catalog), RULES)
    assert diff is None, f"{RULES.relative_to(REPO)} is stale; regenerate it with: {RENDER_COMMAND}\n{diff}"


def test_check_command_fails_on_drift_and_names_the_fix(tmp_path, capsys):
    assert main(["render", "--out", str(tmp_path)]) == 0
    assert main(["check", "--out", str(tmp_path)]) == 0
    stale = tmp_path / RULES_FILE
    stale.write_text(stale.read_text().replace("> 0.01", "> 0.05"))
    capsys.readouterr()
    assert main(["check", "--out", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"^-\s+> 0\.05$", out, re.M) and re.search(r"^\+\s+> 0\.01$", out, re.M), out
    assert RENDER_COMMAND in err


def test_module_entry_point_checks_the_committed_file():
    env = {k: v for k, v in os.environ.items() if k != BASE_URL_ENV}
    env["PYTHONPATH"] = str(REPO / "plugins")
    proc = subprocess.run(
        [sys.executable, "-m", "novacron_runbooks.alerts", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rendering_is_deterministic_and_documents_its_origin(catalog):
    text = render(catalog)
    assert text == render(load_catalog())
    assert text.startswith("# GENERATED from the runbook catalog")
    assert RENDER_COMMAND in text and BACKUP_LAST_SUCCESS in text and BACKUP_LAST_VERIFIED in text
    groups = yaml.safe_load(text)["groups"]
    assert [g["name"] for g in groups] == sorted(g["name"] for g in groups)
    assert {g["name"].split(".", 1)[1] for g in groups} == {r.category for r in catalog if r.trigger_alerts}


@needs_promtool
def test_promtool_check_rules_accepts_the_file():
    argv = [PROMTOOL, "check", "rules", str(RULES)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(build_rules(load_catalog()))} rules found" in proc.stdout


@needs_promtool
def test_promtool_unit_tests_pass():
    files = sorted(str(p) for p in (ALERTS / "tests").glob("*.yml"))
    assert files, "no promtool unit tests in include/alerts/tests"
    proc = subprocess.run([PROMTOOL, "test", "rules", *files], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_has_a_firing_and_a_quiet_promtool_case(catalog):
    fired, quiet = set(), set()
    for path in (ALERTS / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if not check.get("exp_alerts"):
                    quiet.add(check["alertname"])
                for alert in check.get("exp_alerts") or []:
                    labels = alert["exp_labels"]
                    fired.add((check["alertname"], labels.get("threshold"), labels["runbook"]))
    rules = {(r.alert, r.labels.get("threshold"), r.labels["runbook"]) for r in build_rules(catalog)}
    assert rules <= fired, f"rules without a firing promtool case: {sorted(rules - fired, key=str)}"
    assert {alert for alert, _, _ in rules} <= quiet


def test_every_catalog_alert_has_a_rule_naming_its_runbook(catalog):
    rules = build_rules(catalog)
    alerts = {alert: runbook.name for runbook in catalog for alert in runbook.trigger_alerts}
    assert alerts, "the catalog names no alert"
    assert {rule.alert for rule in rules} == set(alerts)
    assert unlisted_alerts(catalog) == []
    routes = {spec.alert: spec.route_to for spec in SPECS if spec.route_to}
    for rule in rules:
        runbook = catalog.get(alerts[rule.alert])
        dag_id = routes.get(rule.alert, runbook.dag_id)
        if rule.alert in routes:
            assert scheduled_job(dag_id).name == dag_id, "a routed alert must start an existing scheduled job"
        assert rule.labels["runbook"] == dag_id
        assert rule.labels["category"] == runbook.category
        assert not runbook.severity or rule.labels["severity"] in runbook.severity
        assert rule.annotations["dag_id"] == dag_id
        assert rule.annotations["runbook_url"] == f"{DEFAULT_BASE_URL}/dags/{dag_id}"
        assert "{{ $value" in rule.annotations["description"] or "$labels" in rule.annotations["description"]


def test_database_issues_severity_follows_the_index(catalog):
    rules = build_rules(catalog)
    assert rule_of(rules, "DatabaseSlowQueries", "query_p95").labels["severity"] == "critical"
    assert rule_of(rules, "DatabaseConnectionPoolSaturated", "pool_usage").labels["severity"] == "warning"


def test_thresholds_and_durations_come_from_the_catalog(catalog):
    rules = build_rules(catalog)
    for spec in SPECS:
        if spec.threshold is None:
            continue
        runbook = catalog.by_alert(spec.alert)
        threshold = runbook.threshold(spec.threshold)
        rule = rule_of(rules, spec.alert, spec.threshold)
        minutes = threshold.for_minutes
        assert rule.for_ == (None if not minutes else duration(minutes * 60)), rule.alert
        assert f"{threshold.value:g}" in rule.expr, (rule.alert, rule.expr)


def test_changing_a_threshold_in_the_catalog_moves_the_rule(catalog, catalog_copy):
    folder, edit = catalog_copy

    def stricter(data):
        data["thresholds"]["error_rate"].update(value=0.025, for_minutes=10)

    edit("high_error_rate", stricter)
    before = {(r.alert, r.labels.get("threshold")): r for r in build_rules(catalog)}
    after = {(r.alert, r.labels.get("threshold")): r for r in build_rules(load_catalog(folder))}
    moved = after["HighErrorRate", "error_rate"]
    assert moved.expr.endswith("> 0.025") and moved.for_ == "10m"
    assert "2.5%" in moved.annotations["summary"]
    assert before["HighErrorRate", "error_rate"].expr.endswith("> 0.01")
    assert {k for k in after if after[k] != before[k]} == {("HighErrorRate", "error_rate")}


@pytest.mark.parametrize(("runbook", "key", "alert"), BOUNDS)
def test_every_rule_bound_lives_only_in_the_catalog(catalog_copy, runbook, key, alert):
    folder, edit = catalog_copy
    edit(runbook, lambda data: data["thresholds"][key].update(value=data["thresholds"][key]["value"] + 7))
    before = rule_of(build_rules(load_catalog()), alert, key).expr
    after = rule_of(build_rules(load_catalog(folder)), alert, key).expr
    assert after != before


def test_base_url_override_at_generation_time(catalog, monkeypatch):
    monkeypatch.setenv(BASE_URL_ENV, "https://airflow.novacron.io/")
    rule = rule_of(build_rules(catalog), "HighErrorRate", "error_rate")
    assert rule.annotations["runbook_url"] == "https://airflow.novacron.io/dags/high_error_rate"


def test_catalog_alert_without_a_rule_spec_is_an_error(catalog_copy):
    folder, edit = catalog_copy
    edit("high_error_rate", lambda data: data["trigger"]["alerts"].append("HighGremlinCount"))
    expected = r"high_error_rate\.yaml: trigger\.alerts\[1\]: .*HighGremlinCount"
    with pytest.raises(AlertRuleError, match=expected):
        build_rules(load_catalog(folder))


def test_threshold_in_an_incomparable_unit_is_an_error(catalog_copy):
    folder, edit = catalog_copy
    edit("high_latency", lambda data: data["thresholds"]["latency_p95"].update(unit="ratio"))
    with pytest.raises(AlertRuleError, match=r"high_latency\.yaml: thresholds\.latency_p95\.unit"):
        build_rules(load_catalog(folder))


def test_percent_and_minute_thresholds_are_converted(catalog_copy):
    folder, edit = catalog_copy
    edit("high_error_rate", lambda data: data["thresholds"]["error_rate"].update(value=1.5, unit="percent"))
    edit("high_latency", lambda data: data["thresholds"]["latency_p95"].update(value=2, unit="minutes"))
    rules = build_rules(load_catalog(folder))
    assert rule_of(rules, "HighErrorRate", "error_rate").expr.endswith("> 1.5 / 100")
    assert rule_of(rules, "HighLatency", "latency_p95").expr.endswith("> 2 * 60")


def test_an_alert_no_runbook_lists_gets_no_rule(catalog_copy):
    folder, edit = catalog_copy
    edit("database_issues", lambda data: data["trigger"]["alerts"].remove("ReplicationLagHigh"))
    catalog = load_catalog(folder)
    assert unlisted_alerts(catalog) == ["ReplicationLagHigh"]
    assert "ReplicationLagHigh" not in {rule.alert for rule in build_rules(catalog)}


def _prometheus(sandbox, path, **params):
    url = f"{sandbox.url('prometheus')}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)["data"]


@pytest.mark.sandbox
def test_sandbox_prometheus_evaluates_every_rule_over_real_series(sandbox):
    expected = build_rules(load_catalog())
    # pushed by the runbooks themselves (backup, test restore), not exported by the sandbox at start
    contract = {BACKUP_LAST_SUCCESS, BACKUP_LAST_VERIFIED, VALIDATION_PASSED, VALIDATION_LAST_SUCCESS}
    metrics = {m for rule in expected for m in METRIC_IN_EXPR.findall(rule.expr)} - contract
    deadline, missing, unhealthy = time.monotonic() + 60, metrics, ["(not polled)"]
    while time.monotonic() < deadline and (missing or unhealthy):
        time.sleep(2)
        missing = {m for m in metrics if not _prometheus(sandbox, "query", query=f"count({m})")["result"]}
        groups = _prometheus(sandbox, "rules", type="alert")["groups"]
        loaded = [r for g in groups if g["name"].startswith("novacron-runbooks.") for r in g["rules"]]
        unhealthy = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r["health"] != "ok"]
        unhealthy += ["(rules not loaded)"] if len(loaded) != len(expected) else []
    assert not missing, f"the sandbox exports no series for {sorted(missing)}"
    assert not unhealthy, unhealthy
