"""The Celery stack's settings, without starting it: what every component shares and what each worker owns."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sandbox import metadb, worker_name
from sandbox.celery_stack import stack_env, worker_env
from sandbox.layout import REPO_ROOT, Layout

META = metadb.MetaDatabase("airflow_meta_0a1b2c3d", "secret", 5432)


def test_a_worker_names_itself_in_the_hostname_airflow_records(monkeypatch):
    monkeypatch.setenv("NOVACRON_CELERY_WORKER", "celery-2")
    assert worker_name.hostname() == f"{socket.gethostname()}-celery-2"
    monkeypatch.delenv("NOVACRON_CELERY_WORKER")
    assert worker_name.hostname() == socket.gethostname()


def test_only_a_metadata_database_of_the_stack_is_ever_dropped(tmp_path):
    with pytest.raises(ValueError, match="'novacron'"):
        metadb.drop(Layout(tmp_path, 0), metadb.MetaDatabase("novacron", "x", 5432))


def test_components_share_one_database_broker_and_secrets_and_workers_own_their_log_port(
    tmp_path, monkeypatch
):
    layout = Layout(tmp_path, 0)
    layout.connections_env.parent.mkdir(parents=True, exist_ok=True)
    layout.connections_env.write_text('export AIRFLOW_CONN_NOVACRON_PROMETHEUS=\'{"conn_type": "http"}\'\n')
    env = stack_env(layout, tmp_path / "home", META, (6390, 8090), Path("/dags"))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://airflow_meta_0a1b2c3d:"
    )
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow_meta_0a1b2c3d:")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6390/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8090/execution/"
    assert env["AIRFLOW_CONN_NOVACRON_PROMETHEUS"] == '{"conn_type": "http"}'
    first, second = worker_env(env, "celery-1"), worker_env(env, "celery-2")
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CELERY__BROKER_URL"):
        assert first[key] == second[key] == env[key]
    port = "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"
    assert first[port] != second[port]
    assert first["NOVACRON_CELERY_WORKER"] == "celery-1"
    assert first["PYTHONPATH"].split(":")[0] == str(REPO_ROOT)  # where hostname_callable is imported from
