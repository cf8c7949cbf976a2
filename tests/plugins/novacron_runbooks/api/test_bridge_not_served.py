"""An alert that arrives before its runbook's DAG is served is delivered again, not dropped.

Alertmanager counts any 2xx as delivered and holds the group's firing alerts back until ``repeat_interval``
(1 h in the sandbox, 4 h in production). An API server answers webhooks before its DAG processor has parsed
every file, so the bridge must answer 503 there. The bridge's router runs in-process against this worker's
own metadata database, where the DAG is made stale (what the DAG processor records for a file it no longer
serves) and then served again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from alert_payloads import notification
from dag_runner import sync_dag
from fastapi import FastAPI
from fastapi.testclient import TestClient
from release_state import load_dag
from sqlalchemy import delete, select, update

from novacron_runbooks.api.alertmanager import TOKEN_FILE_ENV, router
from novacron_runbooks.bridge import runs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RUNBOOK = "rollback"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    token = tmp_path / "token"
    token.write_text(uuid.uuid4().hex)
    monkeypatch.setenv(TOKEN_FILE_ENV, str(token))
    app = FastAPI()
    app.include_router(router)
    with TestClient(app, headers={"Authorization": f"Bearer {token.read_text()}"}) as test_client:
        yield test_client


def _serve(stale: bool) -> None:
    with create_session(scoped=False) as session:
        session.execute(update(DagModel).where(DagModel.dag_id == RUNBOOK).values(is_stale=stale))


def _alert_runs(group_key: str) -> list[DagRun]:
    prefix = f"{runs.RUN_PREFIX}{runs.group_hash(group_key)}__"
    with create_session(scoped=False) as session:
        query = select(DagRun).where(DagRun.dag_id == RUNBOOK, DagRun.run_id.startswith(prefix))
        return list(session.scalars(query))


def test_an_alert_for_a_dag_not_served_yet_is_answered_503_and_starts_its_run_once_served(client):
    sync_dag(load_dag(RUNBOOK))
    key = uuid.uuid4().hex[:8]
    group_key = f'{{}}:{{alertname="ReleaseErrorRate", runbook="{RUNBOOK}", test="{key}"}}'
    body = notification(
        groupKey=group_key,
        alert_labels={"alertname": "ReleaseErrorRate", "runbook": RUNBOOK, "severity": "critical"},
        alert_fingerprint=key,
        alert_startsAt=datetime.now(UTC).isoformat(),
    )
    _serve(stale=True)
    try:
        answer = client.post("/alertmanager/webhook", json=body)
        assert answer.status_code == 503, answer.text
        (outcome,) = answer.json()["alerts"]
        assert outcome["status"] == "unavailable"
        assert "has no DAG in this Airflow" in outcome["reason"]
        assert _alert_runs(group_key) == []
    finally:
        _serve(stale=False)
    try:
        answer = client.post("/alertmanager/webhook", json=body)  # Alertmanager's next delivery
        assert answer.status_code == 200, answer.text
        assert answer.json()["alerts"][0]["status"] == "started"
        assert [run.state for run in _alert_runs(group_key)] == ["queued"]
        # and a delivery after that is the same episode: still the one run
        assert client.post("/alertmanager/webhook", json=body).json()["alerts"][0]["status"] == "deduplicated"
        assert len(_alert_runs(group_key)) == 1
    finally:
        with create_session(scoped=False) as session:
            prefix = f"{runs.RUN_PREFIX}{runs.group_hash(group_key)}__"
            session.execute(delete(DagRun).where(DagRun.dag_id == RUNBOOK, DagRun.run_id.startswith(prefix)))
