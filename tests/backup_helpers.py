"""What the backup tests read from the sandbox: the repository, the Pushgateway and Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from airflow.dag_processing.dagbag import DagBag

from sandbox.tools import as_pg_user

REPO = Path(__file__).resolve().parent.parent


def load_dag(dag_id: str) -> Any:
    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def pgbackrest_extra() -> dict[str, Any]:
    return dict(json.loads(os.environ["AIRFLOW_CONN_NOVACRON_PGBACKREST"])["extra"])


def repository_config() -> str:
    """The repository host's pgbackrest.conf (the tests look at the sandbox's repository directly)."""
    return str(pgbackrest_extra()["repository"]["config"])


def pgbackrest(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    extra = pgbackrest_extra()
    argv = [shutil.which("pgbackrest") or "pgbackrest", f"--config={repository_config()}"]
    argv += [f"--stanza={extra['stanza']}", *args]
    return subprocess.run(as_pg_user(argv), capture_output=True, text=True, check=check, timeout=600)


def backups() -> list[dict[str, Any]]:
    stanzas = json.loads(pgbackrest("info", "--output=json").stdout)
    return list(stanzas[0].get("backup", [])) if stanzas else []


def repo_path() -> Path:
    for line in Path(repository_config()).read_text().splitlines():
        if line.startswith("repo1-path="):
            return Path(line.partition("=")[2])
    raise AssertionError("repo1-path not in the pgBackRest config")


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def promql(layout: Any, query: str) -> list[dict[str, Any]]:
    url = f"{layout.url('prometheus')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    return list(_get_json(url)["data"]["result"])


def alertmanager_active(layout: Any, alertname: str) -> list[dict[str, Any]]:
    """Alerts named ``alertname`` Alertmanager still holds as active (it forgets them only once resolved)."""
    query = urllib.parse.urlencode({"active": "true", "filter": f'alertname="{alertname}"'})
    return list(_get_json(f"{layout.url('alertmanager')}/api/v2/alerts?{query}"))


def pushed(layout: Any, metric: str, **labels: str) -> float | None:
    """Value the Pushgateway holds for ``metric`` with ``labels`` (``None`` when it holds none)."""
    with urllib.request.urlopen(f"{layout.url('pushgateway')}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if not line.startswith(metric + "{") and not line.startswith(metric + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def eventually(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def alert_expr(alert: str, threshold: str) -> str:
    rules = yaml.safe_load((REPO / "include" / "alerts" / "novacron-runbooks.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert and rule["labels"].get("threshold") == threshold:
                return str(rule["expr"])
    raise AssertionError(f"no {alert} rule for threshold {threshold}")
