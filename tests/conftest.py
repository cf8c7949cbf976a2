"""Test-wide set-up: an isolated Airflow home (SQLite), the project's folders, and the sandbox fixtures.

Airflow reads its configuration at import time, so the environment is set here, before any test module
imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_OWN_HOME = not os.environ.get("NOVACRON_TEST_AIRFLOW_HOME")
_HOME = Path(os.environ.get("NOVACRON_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="novacron-airflow-"))

for path in (REPO / "plugins", REPO, REPO / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sandbox.airflow_settings import sqlite_url  # noqa: E402  (no Airflow import: it must come after the env)

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlite_url(str(_HOME / "airflow.db")),
        "NOVACRON_REPORTS_URL": f"file://{_HOME / 'runbook_reports'}",
    }
)

pytest_plugins = ["sandbox_fixtures", "airflow_server", "longest_first"]


def pytest_configure(config: pytest.Config) -> None:
    """Create the metadata database once per session (``dag.test()`` needs it).

    Under pytest-xdist each worker has its own Airflow home and database; the controller runs no test and
    needs none.
    """
    workers = getattr(config.option, "numprocesses", None)
    xdist_controller = bool(workers) and not hasattr(config, "workerinput")
    if not xdist_controller and not (_HOME / "airflow.db").exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the Airflow home this process made (every xdist worker and the controller make one)."""
    if _OWN_HOME:
        shutil.rmtree(_HOME, ignore_errors=True)
