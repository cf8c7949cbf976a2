"""The runbook-health dashboard: each query runs on the sandbox's Prometheus and reads a series we publish."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from backup_helpers import promql

from novacron_runbooks.alerts import contract

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "include" / "grafana" / "runbook-health.json"
MAPPING = REPO / "include" / "statsd" / "mapping.yml"
NATIVE = {"ALERTS", contract.WAL_LAST_ARCHIVE_AGE}
"""Series Prometheus itself (ALERTS) or the postgres exporter provide."""
GRAFANA_VARIABLES = {"$__range": "1h", "$runbook": ".*"}


def queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def published() -> set[str]:
    """Every series the project writes: the StatsD mapping's (with histogram suffixes), the contract's."""
    mapped = {rule["name"] for rule in yaml.safe_load(MAPPING.read_text())["mappings"]}
    histograms = {f"{name}{suffix}" for name in mapped for suffix in ("_bucket", "_count", "_sum")}
    names = {value for key, value in vars(contract).items() if key.isupper() and isinstance(value, str)}
    return mapped | histograms | names | NATIVE


def test_the_dashboard_is_a_grafana_dashboard_with_a_prometheus_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])


def test_every_query_reads_only_series_the_project_publishes():
    known = published()
    for expr in queries():
        names = set(re.findall(r"\b(ALERTS|(?:novacron|airflow|pg)_[a-z0-9_]+)\b", expr))
        assert names, expr
        assert names <= known, f"{expr}: unknown series {sorted(names - known)}"


@pytest.mark.sandbox
def test_every_query_is_valid_promql_on_the_sandbox_prometheus(sandbox):
    for expr in queries():
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        promql(sandbox, expr)  # a query Prometheus refuses raises HTTPError 400 naming the parse error
