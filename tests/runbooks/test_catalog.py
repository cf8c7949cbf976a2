"""The catalog: all 23 runbooks of the index, validated, and broken definitions named by file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from novacron_runbooks.catalog import CatalogError, load_catalog
from novacron_runbooks.paths import runbooks_dir

EXPECTED = {
    "deployment": ["deployment", "rollback", "canary", "hotfix"],
    "incident_response": ["high_error_rate", "high_latency", "service_down", "database_issues"],
    "disaster_recovery": [
        "dr_database_failure",
        "dr_service_failure",
        "dr_complete_recovery",
        "dr_data_corruption",
    ],
    "scaling": ["scale_up", "scale_down", "auto_scaling"],
    "troubleshooting": ["debug_api", "debug_dwcp", "debug_database", "debug_performance"],
    "maintenance": ["backup", "restore", "upgrade", "security_patch"],
}
ALL_NAMES = sorted(name for names in EXPECTED.values() for name in names)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_catalog_holds_all_23_runbooks_of_the_index(catalog):
    assert sorted(catalog.runbooks) == ALL_NAMES
    assert len(catalog) == 23
    for category, names in EXPECTED.items():
        assert sorted(r.name for r in catalog if r.category == category) == sorted(names)


def test_index_mismatch_is_recorded(catalog):
    assert catalog.index.declared_total == 19
    assert catalog.index.listed_total == 23
    assert any("19" in text and "23" in text for text in catalog.index.discrepancies)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_each_definition_carries_the_index_fields(catalog, name):
    runbook = catalog.get(name)
    assert runbook.purpose and runbook.risk_text and runbook.steps
    assert runbook.owner.team and runbook.owner.slack_channel.startswith("#")
    assert runbook.review.next_review >= runbook.review.last_reviewed
    assert [rung.role for rung in runbook.escalation][:4] == [
        "On-call Engineer",
        "Team Lead",
        "Engineering Manager",
        "VP Engineering",
    ]
    if runbook.category == "incident_response":
        assert runbook.severity and runbook.trigger_text and runbook.response_time
    if runbook.category == "disaster_recovery":
        assert runbook.rto and runbook.rto.max_minutes and runbook.rpo
    if runbook.category == "troubleshooting":
        assert runbook.scenarios and runbook.tools and not runbook.mutating
    if runbook.mutating:
        assert runbook.lock_target


def test_escalation_ladder_matches_the_index(catalog):
    ladder = catalog.get("high_error_rate").escalation
    assert [(r.after_minutes, r.until_minutes) for r in ladder[:3]] == [(0, 15), (15, 30), (30, 60)]
    assert ladder[3].after_minutes == 60
    assert ladder[4].role == "CTO" and ladder[4].major_incident_only


@pytest.mark.parametrize(
    ("name", "threshold", "value", "for_minutes"),
    [
        ("high_error_rate", "error_rate", 0.01, 5),
        ("high_latency", "latency_p95", 0.5, 5),
        ("service_down", "unavailable", None, 2),
        ("scale_up", "cpu_usage", 0.7, None),
        ("rollback", "time_to_recover", 5, None),
        ("canary", "abort_budget", 5, None),
        ("deployment", "error_rate", 0.01, None),
    ],
)
def test_bold_thresholds_of_the_index_are_data(catalog, name, threshold, value, for_minutes):
    found = catalog.get(name).threshold(threshold)
    if value is not None:
        assert found.value == pytest.approx(value)
    if for_minutes is not None:
        assert found.for_minutes == for_minutes


def test_dr_objectives_match_the_index(catalog):
    assert catalog.get("dr_database_failure").rto.max_minutes == 60
    assert catalog.get("dr_database_failure").rpo.max_minutes == 15
    assert catalog.get("dr_service_failure").rto.max_minutes == 15
    assert catalog.get("dr_service_failure").rpo.stateless
    assert catalog.get("dr_complete_recovery").rto.max_minutes == 120
    assert catalog.get("dr_data_corruption").rpo.point_in_time


def test_each_alert_starts_exactly_one_runbook(catalog):
    assert catalog.by_alert("HighErrorRate").name == "high_error_rate"
    alerts = [alert for runbook in catalog for alert in runbook.trigger_alerts]
    assert len(alerts) == len(set(alerts))


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(runbooks_dir(), target)
    return target


def _edit(path: Path, mutate) -> None:
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("file", "mutate", "field", "message"),
    [
        (
            "deployment.yaml",
            lambda d: d["estimated_time"].update(max_minutes="thirty"),
            "estimated_time.max_minutes",
            "not of type",
        ),
        ("rollback.yaml", lambda d: d.update(category="emergency"), "category", "is not one of"),
        ("canary.yaml", lambda d: d.pop("purpose"), "(root)", "'purpose' is a required property"),
        ("hotfix.yaml", lambda d: d.update(name="hot_fix"), "name", "must equal the file name"),
        ("high_error_rate.yaml", lambda d: d.pop("severity"), "severity", "required for category"),
        ("backup.yaml", lambda d: d.update(lock_target=None), "lock_target", "not of type"),
        ("scale_up.yaml", lambda d: d.update(related=["scale_sideways"]), "related[0]", "unknown runbook"),
        (
            "restore.yaml",
            lambda d: d["params"]["target"].update(default="mars"),
            "params.target.default",
            "is not one of",
        ),
        (
            "upgrade.yaml",
            lambda d: d["params"].update(dry_run={"type": "boolean", "title": "x", "description": "y"}),
            "params.dry_run",
            "common param",
        ),
        ("service_down.yaml", lambda d: d.update(page_pagerduty=False), "page_pagerduty", "critical"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.endswith(".yaml") else None,
)
def test_broken_definition_names_its_file_and_field(catalog_copy, file, mutate, field, message):
    _edit(catalog_copy / file, mutate)
    with pytest.raises(CatalogError) as raised:
        load_catalog(catalog_copy)
    assert raised.value.source == f"runbooks/{file}"
    assert raised.value.field == field
    assert message in raised.value.message
    assert file in str(raised.value) and field in str(raised.value)


def test_invalid_yaml_is_named(catalog_copy):
    (catalog_copy / "debug_api.yaml").write_text("name: [unclosed\n")
    with pytest.raises(CatalogError, match=r"runbooks/debug_api.yaml: \(yaml\)"):
        load_catalog(catalog_copy)


def test_missing_runbook_breaks_the_count(catalog, catalog_copy):
    referenced = {name for runbook in catalog for name in runbook.related}
    unreferenced = sorted(set(catalog.runbooks) - referenced)[0]
    (catalog_copy / f"{unreferenced}.yaml").unlink()
    with pytest.raises(CatalogError, match="listed_total"):
        load_catalog(catalog_copy)


def test_readme_maps_every_runbook_to_its_dag(catalog):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for runbook in catalog:
        assert f"| `{runbook.name}` |" in readme, f"README does not list {runbook.name}"
        assert runbook.index_entry in readme
