"""The compose file (Docker cannot run here): structure and the settings the code relies on."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft201909Validator

from novacron_runbooks import connections

REPO = Path(__file__).resolve().parent.parent
# tests/compose/compose-spec.json: the Compose Specification's JSON schema (compose-spec project,
# schema/compose-spec.json, Apache-2.0), which Docker Compose validates files against.


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


def test_compose_file_validates_against_the_compose_specification():
    schema = json.loads((REPO / "tests" / "compose" / "compose-spec.json").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in Draft201909Validator(schema).iter_errors(compose)]
    assert errors == []
    broken = {
        **compose,
        "services": {**compose["services"], "redis": {**compose["services"]["redis"], "imagee": "x"}},
    }
    assert not Draft201909Validator(schema).is_valid(broken)  # the schema really checks service keys


def test_every_runbook_connection_is_in_the_environment_example_but_the_drill_mark():
    lines = (REPO / ".env.example").read_text().splitlines()
    declared = {
        line.split("=", 1)[0].removeprefix("AIRFLOW_CONN_").lower(): json.loads(line.split("=", 1)[1])
        for line in lines
        if line.startswith("AIRFLOW_CONN_")
    }
    ids = {value for key, value in vars(connections).items() if key.isupper() and isinstance(value, str)}
    ids.remove(connections.DB_HOST_PREFIX)  # a prefix: one SSH connection per database host of the node list
    nodes = declared[connections.PGBACKREST]["extra"]["nodes"]
    ids |= {node["ssh_conn_id"] for node in nodes}
    assert {node["ssh_conn_id"] for node in nodes} == {
        connections.DB_HOST_PREFIX + n for n in ("pg_a", "pg_b")
    }
    assert set(declared) == ids - set(connections.OPTIONAL) - {connections.DRILL}
    assert all("conn_type" in conn for conn in declared.values())
    for conn in declared.values():
        if conn["conn_type"] == "ssh":  # key authentication, the host key pinned, never skipped
            assert conn["extra"]["key_file"].startswith("/opt/airflow/secrets/ssh/"), conn
            assert (
                conn["extra"]["host_key"].startswith("ssh-ed25519 ")
                and not conn["extra"]["no_host_key_check"]
            )


def test_the_ssh_key_is_mounted_read_only():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    mounts = compose["x-airflow-common"]["volumes"]
    assert any(m.endswith(":/opt/airflow/secrets/ssh:ro") for m in mounts), mounts


def test_airflow_metrics_reach_prometheus_through_the_projects_statsd_mapping():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__METRICS__STATSD_ON"] == "true" and env["AIRFLOW__METRICS__LEGACY_NAMES_ON"] == "true"
    exporter = compose["services"][env["AIRFLOW__METRICS__STATSD_HOST"]]
    mapping = next(
        arg.split("=", 1)[1] for arg in exporter["command"] if arg.startswith("--statsd.mapping-config=")
    )
    assert any(v.endswith(f"/include/statsd/mapping.yml:{mapping}:ro") for v in exporter["volumes"])
    prometheus = yaml.safe_load((REPO / "include" / "compose" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert f"{env['AIRFLOW__METRICS__STATSD_HOST']}:9102" in targets
