"""The compose file (Docker cannot run here): structure and the settings the code relies on."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_compose_runs_the_project_folders_on_celery():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    services = compose["services"]
    for name in (
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-init",
        "postgres",
        "redis",
    ):
        assert name in services, name
    common = compose["x-airflow-common"]
    env = common["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "JWT_SECRET" in env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert env["PYTHONPATH"] == "/opt/airflow/plugins"
    mounts = " ".join(common["volumes"])
    for folder in ("dags", "plugins", "include"):
        assert f"/{folder}:/opt/airflow/{folder}" in mounts
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in (REPO / "docker-compose.yaml").read_text().split("---", 1)[1]
    assert common["build"]["dockerfile"] == "Dockerfile"
    assert "requirements.txt" in (REPO / "Dockerfile").read_text()


def test_alertmanager_and_the_bridge_share_one_token_file():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    alertmanager = yaml.safe_load((REPO / "include" / "compose" / "alertmanager.yml").read_text())
    common = compose["x-airflow-common"]
    in_airflow = common["environment"]["NOVACRON_ALERTMANAGER_TOKEN_FILE"]
    in_alertmanager = alertmanager["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]
    airflow_side = [m.rsplit(":", 2)[0] for m in common["volumes"] if m.endswith(f":{in_airflow}:ro")]
    alertmanager_side = [
        m.rsplit(":", 2)[0]
        for m in compose["services"]["alertmanager"]["volumes"]
        if m.endswith(f":{in_alertmanager['credentials_file']}:ro")
    ]
    source = "${RUNBOOK_BRIDGE_TOKEN_FILE:-./.secrets/runbook-bridge-token}"
    assert airflow_side == alertmanager_side == [source]
