"""Every deployment shape gives a task's execution-API calls the same timeout and retries.

``sandbox/airflow_settings.py`` holds the values and says why; here the demo's environment, the compose file,
the Helm values and the Celery stack are read and compared with it, and Airflow's own config is asked whether
the options still exist (a renamed option would otherwise be silently ignored).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from sandbox import metadb
from sandbox.airflow_settings import AIRFLOW_DEFAULT_TIMEOUT, EXECUTION_API_CLIENT, execution_api_env
from sandbox.celery_stack import stack_env
from sandbox.layout import Layout

REPO = Path(__file__).resolve().parent.parent


def test_the_options_are_airflows_and_the_timeout_is_above_its_default():
    import airflow.configuration

    defaults = airflow.configuration.conf  # the installed Airflow's config, defaults included
    for name in EXECUTION_API_CLIENT:
        assert defaults.has_option("workers", name), f"[workers] {name} is not an Airflow option"
    assert float(defaults.get_default_value("workers", "execution_api_timeout")) == AIRFLOW_DEFAULT_TIMEOUT
    assert float(EXECUTION_API_CLIENT["execution_api_timeout"]) > 10 * AIRFLOW_DEFAULT_TIMEOUT


def test_the_demo_environment_sets_them():
    shown = subprocess.run(
        ["bash", "-c", "source scripts/airflow-env.sh && env"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__WORKERS__")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    for key, value in execution_api_env().items():
        assert env.get(key) == value, key


def test_the_compose_file_sets_them():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    for key, value in execution_api_env().items():
        assert str(env.get(key)) == value, key


def test_the_helm_values_set_them():
    values = yaml.safe_load((REPO / "include" / "helm" / "values-kubernetes-executor.yaml").read_text())
    assert values["config"]["workers"] == EXECUTION_API_CLIENT


def test_the_celery_stack_sets_them(tmp_path):
    layout = Layout(tmp_path, 0)
    layout.connections_env.parent.mkdir(parents=True, exist_ok=True)
    layout.connections_env.write_text("")
    meta = metadb.MetaDatabase("airflow_meta_0a1b2c3d", "secret", 5432)
    env = stack_env(layout, tmp_path / "home", meta, (6390, 8090), REPO / "dags")
    for key, value in execution_api_env().items():
        assert env[key] == value, key
