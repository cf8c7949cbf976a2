"""The Alertmanager bridge in a real ``airflow standalone``, fed by hand and by the real Alertmanager.

Runs are started on ``rollback``, paused for the test so they stay queued (a queued run proves "started
once" and changes nothing), and deleted afterwards so the circuit breaker's count starts at zero each test.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from airflow.utils.session import create_session
from alert_payloads import notification

from novacron_runbooks.bridge import runs

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.airflow import AirflowServer

pytestmark = [pytest.mark.sandbox, pytest.mark.airflow_server]

RUNBOOK = "rollback"
WEBHOOK = "/novacron/alertmanager/webhook"


def admin(server: AirflowServer, method: str, path: str, body: Any = None) -> Any:
    """A set-up or clean-up call through the REST API, again while SQLite answers "database is locked"."""
    for _ in range(10):
        status, answer = server.request(method, path, body)
        if status < 500:
            assert status < 300, answer
            return answer
        time.sleep(1)
    raise AssertionError(f"{method} {path}: {status} {answer}")


class Bridge:
    """Post notifications to the bridge and read what they did to ``rollback``'s runs."""

    def __init__(self, server: AirflowServer, token: str) -> None:
        self.server = server
        self.token = token

    def post(self, body: Any, token: str | None = None) -> tuple[int, Any]:
        return self.server.request("POST", WEBHOOK, body, token=self.token if token is None else token)

    def runs(self) -> list[dict[str, Any]]:
        body = admin(self.server, "GET", f"/api/v2/dags/{RUNBOOK}/dagRuns?limit=1000")
        return [run for run in body["dag_runs"] if run["dag_run_id"].startswith("alert__")]

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(admin(self.server, "GET", f"/api/v2/dags/{RUNBOOK}/dagRuns/{run_id}"))


def group(alertname: str = "ReleaseErrorRate", **labels: str) -> dict[str, Any]:
    """A firing notification of a fresh alert group naming ``rollback``."""
    key = uuid.uuid4().hex[:8]
    return notification(
        groupKey=f'{{}}:{{alertname="{alertname}", runbook="{RUNBOOK}", test="{key}"}}',
        alert_labels={"alertname": alertname, "runbook": RUNBOOK, "severity": "critical", **labels},
        alert_fingerprint=key,
        alert_startsAt=datetime.now(UTC).isoformat(),
    )


@pytest.fixture
def bridge(airflow_server: AirflowServer) -> Iterator[Bridge]:
    token = Path(os.environ["NOVACRON_ALERTMANAGER_TOKEN_FILE"]).read_text().strip()
    admin(airflow_server, "PATCH", f"/api/v2/dags/{RUNBOOK}", {"is_paused": True})
    client = Bridge(airflow_server, token)
    try:
        yield client
    finally:
        for run in client.runs():
            admin(airflow_server, "DELETE", f"/api/v2/dags/{RUNBOOK}/dagRuns/{run['dag_run_id']}")
        admin(airflow_server, "PATCH", f"/api/v2/dags/{RUNBOOK}", {"is_paused": False})


@pytest.mark.parametrize("token", ["", "wrong-token-of-some-length", "Basic"], ids=["none", "wrong", "basic"])
def test_without_the_token_nothing_starts(bridge, token):
    body = group()
    if token == "Basic":
        request = urllib.request.Request(
            f"{bridge.server.base_url}{WEBHOOK}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Basic {bridge.token}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        status = err.value.code
    else:
        status, _ = bridge.post(body, token=token)
    assert status == 401
    assert bridge.runs() == []
    status, answer = bridge.post(body)  # the same notification with the token starts its run
    assert answer["alerts"][0]["status"] == "started"
    assert len(bridge.runs()) == 1


def test_malformed_payload_is_refused_naming_the_field(bridge):
    body = group()
    body["alerts"][0]["startsAt"] = "yesterday"
    status, answer = bridge.post(body)
    assert status == 400
    assert "alerts.0.startsAt" in answer["detail"]
    status, answer = bridge.post({**group(), "version": "3"})
    assert status == 400 and "version" in answer["detail"]
    assert bridge.runs() == []


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("service", 'novacron-api"} or vector(1) #'),
        ("instance", "$(rm -rf /)"),
        ("runbook", "rollback;id"),
        ("alertname", 'Up"} or vector(1) #'),
    ],
    ids=["promql", "shell", "runbook", "alertname"],
)
def test_crafted_label_is_refused_and_the_rest_proceeds(bridge, label, value):
    body = group()
    crafted = json.loads(json.dumps(body["alerts"][0]))
    crafted["labels"][label] = value
    crafted["fingerprint"] = "bad0"
    body["alerts"].append(crafted)
    status, answer = bridge.post(body)
    assert status == 200, answer
    by_fp = {alert["fingerprint"]: alert for alert in answer["alerts"]}
    assert by_fp["bad0"]["status"] == "rejected"
    assert repr(label) in by_fp["bad0"]["reason"]
    assert value not in str(answer)  # str, not JSON: quotes stay unescaped
    started = by_fp[body["alerts"][0]["fingerprint"]]
    assert started["status"] == "started"
    assert [run["dag_run_id"] for run in bridge.runs()] == [started["run_id"]]
    assert value not in str(bridge.run(started["run_id"])["conf"])


def test_alerts_of_one_group_share_one_run(bridge):
    body = group(instance="10.0.0.2:8080")
    later = json.loads(json.dumps(body["alerts"][0]))
    later["fingerprint"] = "b2"
    later["labels"]["instance"] = "10.0.0.1:8080"
    body["alerts"].insert(0, {**later, "startsAt": (datetime.now(UTC) + timedelta(seconds=30)).isoformat()})
    status, answer = bridge.post(body)
    assert status == 200, answer
    assert [(a["fingerprint"], a["status"]) for a in answer["alerts"]] == [
        (body["alerts"][1]["fingerprint"], "started"),
        ("b2", "grouped"),
    ]
    assert answer["alerts"][0]["run_id"] == answer["alerts"][1]["run_id"]
    (run,) = bridge.runs()
    assert run["conf"]["alert"]["labels"]["instance"] == "10.0.0.2:8080"  # the first to fire


def test_unknown_runbooks_are_rejected(bridge):
    body = group()
    body["alerts"][0]["labels"]["runbook"] = "no_such_runbook"
    status, answer = bridge.post(body)
    assert status == 200
    assert answer["alerts"][0] == {
        "fingerprint": body["alerts"][0]["fingerprint"],
        "alertname": "ReleaseErrorRate",
        "status": "rejected",
        "runbook": "no_such_runbook",
        "reason": "not a runbook of the catalog",
    }
    assert bridge.runs() == []
    # every catalog runbook has its DAG now; an Airflow that lacks one is refused by the bridge's same lookup
    with create_session(scoped=False) as session, pytest.raises(runs.NotServed, match="has no DAG"):
        runs.target_dag(session, "no_such_runbook")


def test_one_run_for_100_concurrent_duplicates(bridge):
    body = group()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: bridge.post(body), range(100)))
    assert {status for status, _ in answers} == {200}, [a for a in answers if a[0] != 200][:3]
    outcomes = [answer["alerts"][0] for _, answer in answers]
    started = [outcome for outcome in outcomes if outcome["status"] == "started"]
    assert len(started) == 1, outcomes[:3]
    assert sum(outcome["status"] == "deduplicated" for outcome in outcomes) == 99
    assert {outcome["run_id"] for outcome in outcomes} == {started[0]["run_id"]}
    runs = bridge.runs()
    assert [run["dag_run_id"] for run in runs] == [started[0]["run_id"]]
    run = runs[0]
    assert run["triggering_user_name"] == "alertmanager"
    assert run["conf"]["alert"]["alertname"] == "ReleaseErrorRate"
    assert run["conf"]["alert"]["group_key"] == body["groupKey"]
    assert run["conf"]["dry_run"] is False
    assert "Repeat notifications: 99 " in run["note"]
    print(f"\nbridge latency, the started one of 100 concurrent duplicates: {started[0]['latency_ms']} ms")


def test_a_later_episode_of_an_active_group_joins_its_run(bridge):
    body = group()
    status, first = bridge.post(body)
    assert first["alerts"][0]["status"] == "started"
    later = json.loads(json.dumps(body))
    later["alerts"][0]["startsAt"] = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    status, second = bridge.post(later)
    assert second["alerts"][0]["status"] == "deduplicated"
    assert second["alerts"][0]["run_id"] == first["alerts"][0]["run_id"]
    assert len(bridge.runs()) == 1


def test_resolved_notification_starts_nothing_and_is_recorded(bridge):
    body = group()
    status, answer = bridge.post(body)
    run_id = answer["alerts"][0]["run_id"]
    resolved = json.loads(json.dumps(body))
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-27T12:00:00Z"
    status, answer = bridge.post(resolved)
    assert status == 200
    assert answer["alerts"][0]["status"] == "resolved_recorded"
    assert answer["alerts"][0]["run_id"] == run_id
    assert len(bridge.runs()) == 1
    fingerprint = body["alerts"][0]["fingerprint"]
    assert f"Resolved: ReleaseErrorRate {fingerprint} at 2026-11-27T12:00:00Z" in bridge.run(run_id)["note"]
    orphan = group()
    orphan["status"] = orphan["alerts"][0]["status"] = "resolved"
    status, answer = bridge.post(orphan)
    assert answer["alerts"][0]["status"] == "resolved_unmatched"
    assert len(bridge.runs()) == 1


def test_breaker_opens_after_the_budget(bridge):
    decisions = []
    for _ in range(4):
        status, answer = bridge.post(group())
        assert status == 200 and answer["alerts"][0]["status"] == "started", answer
        decisions.append(answer["alerts"][0])
    assert [d["breaker_open"] for d in decisions] == [False, False, False, True]
    assert [d["dry_run"] for d in decisions] == [False, False, False, True]
    assert "circuit breaker open: 3/3" in decisions[3]["reason"]
    held = bridge.run(decisions[3]["run_id"])
    assert held["conf"]["dry_run"] is True and held["conf"]["alert"]["breaker_open"] is True
    assert "circuit breaker open" in held["note"]


def test_bridge_latency(bridge):
    """Request received → run committed, as the bridge measures it, over sequential new groups."""
    server_ms, client_ms = [], []
    for _ in range(10):
        start = time.monotonic()
        status, answer = bridge.post(group())
        client_ms.append((time.monotonic() - start) * 1000)
        assert answer["alerts"][0]["status"] == "started"
        server_ms.append(answer["alerts"][0]["latency_ms"])
    print(
        f"\nbridge latency over 10 new groups: median {statistics.median(server_ms):.1f} ms "
        f"(max {max(server_ms):.1f}); round trip median {statistics.median(client_ms):.1f} ms"
    )
    assert statistics.median(server_ms) < 2000


def test_real_alertmanager_starts_one_run(bridge, sandbox):
    """An alert posted to the sandbox's Alertmanager reaches the bridge, which starts exactly one run."""
    alertname = f"BridgeEndToEnd{uuid.uuid4().hex[:6]}"
    alert = {
        "labels": {
            "alertname": alertname,
            "runbook": RUNBOOK,
            "severity": "warning",
            "service": "novacron-api",
        },
        "annotations": {"summary": "posted by the bridge's end-to-end test"},
        "startsAt": datetime.now(UTC).isoformat(),
    }

    def post_to_alertmanager(payload: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{sandbox.url('alertmanager')}/api/v2/alerts",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    post_to_alertmanager([alert])
    post_to_alertmanager([alert])  # a duplicate while the group waits: still one run
    ours: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ours:
        ours = [run for run in bridge.runs() if run["conf"]["alert"].get("alertname") == alertname]
        time.sleep(1)
    assert len(ours) == 1, "Alertmanager's notification did not start a run"
    assert ours[0]["conf"]["alert"]["labels"]["service"] == "novacron-api"
    assert ours[0]["conf"]["alert"]["group_key"] == f'{{}}:{{alertname="{alertname}", runbook="{RUNBOOK}"}}'

    post_to_alertmanager([{**alert, "endsAt": datetime.now(UTC).isoformat()}])
    deadline = time.monotonic() + 60
    note = ""
    while time.monotonic() < deadline and "Resolved: " not in note:
        note = bridge.run(ours[0]["dag_run_id"])["note"] or ""
        time.sleep(1)
    assert f"Resolved: {alertname}" in note
    assert len([run for run in bridge.runs() if run["conf"]["alert"].get("alertname") == alertname]) == 1


def test_an_alert_routed_to_a_scheduled_job_starts_it(bridge):
    """BackupValidationFailed names the daily test restore, a scheduled job outside the catalog."""
    body = group(alertname="BackupValidationFailed")
    body["alerts"][0]["labels"]["runbook"] = "backup_validation"
    status, answer = bridge.post(body)
    outcome = answer["alerts"][0]
    try:
        started = (status, outcome["status"], outcome["runbook"])
        assert started == (200, "started", "backup_validation"), answer
        run = admin(bridge.server, "GET", f"/api/v2/dags/backup_validation/dagRuns/{outcome['run_id']}")
        assert run["conf"]["alert"]["labels"]["alertname"] == "BackupValidationFailed"
    finally:
        if outcome.get("run_id"):
            admin(bridge.server, "DELETE", f"/api/v2/dags/backup_validation/dagRuns/{outcome['run_id']}")
