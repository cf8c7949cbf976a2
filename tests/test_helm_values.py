"""The Helm values for the KubernetesExecutor (no cluster here): what the runbooks rely on in them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
VALUES = REPO / "include" / "helm" / "values-kubernetes-executor.yaml"


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def pinned_airflow() -> str:
    found = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)
    assert found
    return found.group(1)


def test_tasks_run_on_the_kubernetes_executor_with_a_triggerer():
    chart = values()
    assert chart["executor"] == "KubernetesExecutor"
    assert chart["triggerer"]["enabled"] is True and chart["triggerer"]["replicas"] >= 1
    assert chart["dagProcessor"]["enabled"] is True
    assert chart["redis"]["enabled"] is False  # no broker without Celery


def test_the_image_is_the_projects_with_the_runbooks_baked_in():
    chart = values()
    version = pinned_airflow()
    assert chart["airflowVersion"] == chart["defaultAirflowTag"] == version
    assert str(chart["images"]["airflow"]["tag"]).startswith(version)
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{version}-" in dockerfile
    for folder in ("dags", "plugins", "include"):
        assert re.search(rf"^COPY .*\b{folder} /opt/airflow/{folder}$", dockerfile, re.MULTILINE), folder
    assert "ENV PYTHONPATH=/opt/airflow/plugins" in dockerfile
    assert chart["dags"]["gitSync"]["enabled"] is False and chart["dags"]["persistence"]["enabled"] is False


def test_secrets_are_referenced_by_name_never_inlined():
    chart = values()
    for inline in ("jwtSecret", "fernetKey", "apiSecretKey", "webserverSecretKey"):
        assert not chart.get(inline), inline
    assert chart["jwtSecretName"] and chart["fernetKeySecretName"] and chart["apiSecretKeySecretName"]
    assert chart["data"]["metadataSecretName"] and "metadataConnection" not in chart["data"]
    env_from = yaml.safe_load(chart["extraEnvFrom"])
    assert env_from == [{"secretRef": {"name": "novacron-runbooks-connections"}}]


def test_reports_and_the_bridge_token_live_on_mounts_every_pod_shares():
    chart = values()
    env = {item["name"]: item["value"] for item in chart["env"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in chart["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in chart["volumes"]}
    reports = env["NOVACRON_REPORTS_URL"].removeprefix("file://")
    assert "persistentVolumeClaim" in volumes[mounts[reports]]  # task pods are gone when a report is read
    token = env["NOVACRON_ALERTMANAGER_TOKEN_FILE"]
    assert "secret" in volumes[mounts[token]]


def test_the_ssh_key_is_mounted_read_only_from_its_secret():
    chart = values()
    mount = next(m for m in chart["volumeMounts"] if m["mountPath"] == "/opt/airflow/secrets/ssh")
    assert mount["readOnly"] is True
    volume = next(v for v in chart["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "novacron-runbooks-ssh"
    assert volume["secret"]["defaultMode"] == 0o400
