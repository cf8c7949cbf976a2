"""Every deployment shape gives a task's execution-API calls the same timeout and retries.

An embedded (SQLite) Airflow, the demo's and the tests', waits for SQLite's write lock past pysqlite's 5 s.

``sandbox/airflow_settings.py`` holds the values and says why; here the demo's environment, the compose file,
the Helm values and the Celery stack are read and compared with it, and Airflow's own config is asked whether
the options still exist (a renamed option would otherwise be silently ignored).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from pathlib import Path

import yaml

from sandbox import metadb
from sandbox.airflow_settings import (
    AIRFLOW_DEFAULT_TIMEOUT,
    EXECUTION_API_CLIENT,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    execution_api_env,
    sqlite_url,
)
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


def demo_environment() -> dict[str, str]:
    """What ``scripts/airflow-env.sh`` exports when nothing of Airflow's is set outside."""
    shown = subprocess.run(
        ["bash", "-c", "source scripts/airflow-env.sh && env"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)


def test_the_demo_environment_sets_them():
    env = demo_environment()
    for key, value in execution_api_env().items():
        assert env.get(key) == value, key


def test_the_demo_database_waits_for_sqlites_lock_as_the_tests_do():
    env = demo_environment()
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == sqlite_url(f"{env['AIRFLOW_HOME']}/airflow.db")
    tests = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]  # set by tests/conftest.py
    assert tests.endswith(f"?timeout={SQLITE_BUSY_TIMEOUT_SECONDS}")


def test_a_write_waits_past_pysqlites_default_for_the_lock_another_process_holds(tmp_path):
    """The URL's timeout reaches the driver: a writer outlasts a lock held past pysqlite's 5 s default."""
    from sqlalchemy import create_engine, text

    path = tmp_path / "airflow.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE log (event TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO log VALUES ('holder')")
    released = threading.Timer(7.0, holder.execute, ("COMMIT",))
    released.start()
    try:
        with create_engine(sqlite_url(str(path))).begin() as connection:
            assert released.is_alive()  # the lock is still held: the write below has to wait for it
            connection.execute(text("INSERT INTO log VALUES ('writer')"))
    finally:
        released.join()
        holder.close()
    rows = sqlite3.connect(path).execute("SELECT event FROM log ORDER BY rowid").fetchall()
    assert rows == [("holder",), ("writer",)]


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
