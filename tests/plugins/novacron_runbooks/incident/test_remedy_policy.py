"""The high-error-rate remediation policy of RUNBOOKS.md, on hand-made diagnoses."""

from __future__ import annotations

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.incident.diagnosis import Diagnosis, choose

RUNBOOK = default_catalog().get("high_error_rate")
BAD = {"revision": 2, "image": "registry.novacron.io/novacron/api:1.5.0-bad", "result": "promoted"}


def test_a_recent_release_serving_the_errors_is_rolled_back_first():
    found = Diagnosis(
        errors_by_version={"1.5.0-bad": 0.3, "1.4.2": 0.0}, recent_releases=[BAD], pool_usage=0.95
    )
    assert choose(found, RUNBOOK)[0] == "rollback"


def test_a_recent_release_without_errors_is_not_blamed():
    found = Diagnosis(errors_by_version={"1.5.0-bad": 0.001}, recent_releases=[BAD], pool_usage=0.95)
    assert choose(found, RUNBOOK) == ("database_issues", "database pool 95% in use")


def test_a_lost_database_then_cpu_saturation_then_people():
    assert choose(Diagnosis(database_up=0.0), RUNBOOK)[0] == "database_issues"
    assert choose(Diagnosis(database_up=1.0, max_cpu=0.9), RUNBOOK)[0] == "scale_up"
    assert choose(Diagnosis(database_up=1.0, max_cpu=0.2, pool_usage=0.1), RUNBOOK)[0] is None


def test_a_diagnosis_survives_its_xcom_round_trip():
    found = Diagnosis(errors_by_version={"1.4.2": 0.5}, recent_releases=[BAD], max_cpu=0.3)
    assert Diagnosis.from_dict(found.to_dict()) == found
