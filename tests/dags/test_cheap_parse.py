"""DAG files import nothing heavy: client libraries are imported inside the tasks that call them.

Every task start parses its DAG file again, and the DAG processor re-parses every file on its interval, so a
client library imported at the top of a DAG file (or of anything it imports) is paid on every task, not once.
The probe imports each DAG file in one fresh interpreter, in turn, and records which forbidden package each
file pulled in first; a package an earlier file loaded is then charged to that earlier file, so the report
names the file to fix.

One exception, on purpose: the DAG files that start child runs use the standard provider's
``TriggerDagRunOperator``, whose module imports Airflow's ORM models (about 0.35 s). Airflow recognises
that class itself (an ``isinstance`` check when it serializes the DAG) for its DAG-dependency view and the
"Triggered DAG" link, so those files keep it; they are probed last, after that module is loaded, and must
pull in nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

# client libraries and what they pull in; each one costs 50-300 ms to import in a fresh interpreter
HEAVY = (
    "kubernetes",
    "slack_sdk",
    "pagerduty",
    "aiohttp",
    "requests",
    "psycopg",
    "psycopg2",
    "prometheus_client",
    "paramiko",
    "matplotlib",
    "numpy",
    "scipy",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.models.dagrun",
)
CHILD_RUN_DAGS = {
    "dr_complete_recovery.py",
    "dr_drill.py",
    "high_error_rate.py",
    "high_latency.py",
    "service_down.py",
    "upgrade.py",
}

PROBE = """
import importlib.util, json, sys
import airflow.sdk  # noqa: F401  - what every DAG file needs is not the file's cost
heavy = json.loads(sys.argv[1])
TRIGGER = "airflow.providers.standard.operators.trigger_dagrun"
def loaded(name):
    return name in sys.modules
pulled = {}
for path in sys.argv[2:]:
    if path == "--then-child-runs":
        importlib.import_module(TRIGGER)
        continue
    before = {name for name in heavy if loaded(name)}
    spec = importlib.util.spec_from_file_location("dag_" + path.rsplit("/", 1)[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    new = sorted(name for name in heavy if loaded(name) and name not in before)
    if new:
        pulled[path.rsplit("/", 1)[-1]] = new
print(json.dumps(pulled))
"""


def test_no_dag_file_imports_a_client_library(tmp_path: Path) -> None:
    paths = sorted(DAGS.glob("*.py"))
    assert len(paths) >= 30, "the DAG folder was not found"
    ordinary = [str(p) for p in paths if p.name not in CHILD_RUN_DAGS]
    child_runs = [str(p) for p in paths if p.name in CHILD_RUN_DAGS]
    assert len(child_runs) == len(CHILD_RUN_DAGS), "a DAG file of CHILD_RUN_DAGS is gone: update the list"
    files = [*ordinary, "--then-child-runs", *child_runs]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *files],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pulled = json.loads(proc.stdout.strip().splitlines()[-1])
    assert pulled == {}, f"DAG files importing client libraries at parse time: {pulled}"


def test_the_probe_catches_a_heavy_import(tmp_path: Path) -> None:
    """The probe itself can fail: a DAG file importing the Kubernetes client is reported."""
    dag = tmp_path / "dags" / "heavy.py"
    dag.parent.mkdir()
    dag.write_text("import kubernetes.client  # noqa: F401\n")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), str(dag)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    assert "kubernetes" in json.loads(proc.stdout.strip().splitlines()[-1])["heavy.py"]
