"""The Slack/PagerDuty receivers, called through the real client libraries."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pagerduty
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from sandbox.aio import free_port

REPO = Path(__file__).resolve().parents[2]


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("receivers")


TLS_PORT = free_port()


@pytest.fixture(scope="module")
def receivers(state_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.receivers",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--tls-port",
            str(TLS_PORT),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no start") from None
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


@pytest.fixture(autouse=True)
def empty_inbox(receivers: str) -> None:
    assert http("DELETE", f"{receivers}/_messages")[0] == 200


def messages(url: str, kind: str = "") -> list[dict[str, Any]]:
    return http("GET", f"{url}/_messages?kind={kind}")[1]["messages"]


class TestSlack:
    def test_web_client_post_thread_update(self, receivers: str) -> None:
        client = WebClient(token="xoxb-x", base_url=f"{receivers}/api/")
        assert client.auth_test()["team"] == "NovaCron"
        first = client.chat_postMessage(channel="#sre", text="hi")
        assert first["ok"] and first["channel"] == "#sre" and first["message"]["text"] == "hi"
        reply = client.chat_postMessage(channel="#sre", text="step 1 done", thread_ts=first["ts"])
        assert reply["ts"] != first["ts"] and reply["message"]["thread_ts"] == first["ts"]
        updated = client.chat_update(channel="#sre", ts=first["ts"], text="hi (done)")
        assert updated["ts"] == first["ts"]
        got = messages(receivers, "slack")
        assert [m["body"]["method"] for m in got] == ["chat.postMessage", "chat.postMessage", "chat.update"]
        assert got[0]["body"]["text"] == "hi" and got[0]["headers"]["Authorization"] == "Bearer ***"

    @pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
    def test_form_encoded_and_errors(self, receivers: str) -> None:
        data = b"channel=%23ops&text=form+post&token=xoxb-y"
        req = urllib.request.Request(
            f"{receivers}/api/chat.postMessage",
            data=data,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["ok"] is True
        assert messages(receivers, "slack")[0]["body"]["text"] == "form post"
        with pytest.raises(SlackApiError) as no_text:
            WebClient(token="xoxb-x", base_url=f"{receivers}/api/").chat_postMessage(channel="#sre")
        assert no_text.value.response["error"] == "no_text"

    def test_incoming_webhook(self, receivers: str) -> None:
        hook = WebhookClient(f"{receivers}/services/T000/B000/XXXX")
        response = hook.send(text="deploy started")
        assert response.status_code == 200 and response.body == "ok"
        assert messages(receivers, "slack_webhook")[0]["body"] == {"text": "deploy started"}


def pd_client(state_dir: Path) -> pagerduty.EventsApiV2Client:
    """The client accepts https:// base URLs only, so it talks to the TLS port and trusts its certificate."""
    return pagerduty.EventsApiV2Client(
        "routing-key-123",
        base_url=f"https://127.0.0.1:{TLS_PORT}",
        verify=str(state_dir / "tls" / "cert.pem"),
    )


class TestPagerDuty:
    def test_client_refuses_plain_http(self, receivers: str) -> None:
        with pytest.raises(pagerduty.UrlError):
            pagerduty.EventsApiV2Client("routing-key-123", base_url=receivers)

    def test_events_client_trigger_and_resolve(self, receivers: str, state_dir: Path) -> None:
        client = pd_client(state_dir)
        dedup = client.trigger(
            "API error rate 4%",
            "novacron-api",
            severity="critical",
            custom_details={"runbook": "high-error-rate"},
        )
        assert dedup
        assert client.resolve(dedup) == dedup
        got = messages(receivers, "pagerduty")
        assert [m["body"]["event_action"] for m in got] == ["trigger", "resolve"]
        payload = got[0]["body"]["payload"]
        assert payload["summary"] == "API error rate 4%" and payload["severity"] == "critical"
        assert got[0]["body"]["routing_key"] == "routing-key-123"

    def test_change_event(self, receivers: str, state_dir: Path) -> None:
        client = pd_client(state_dir)
        client.send_change_event(payload={"summary": "deployed api 1.5.0", "source": "airflow"})
        assert (
            messages(receivers, "pagerduty_change")[0]["body"]["payload"]["summary"] == "deployed api 1.5.0"
        )

    def test_invalid_events_rejected(self, receivers: str) -> None:
        status, body = http(
            "POST",
            f"{receivers}/v2/enqueue",
            {"routing_key": "k", "event_action": "trigger", "payload": {"summary": "x"}},
        )
        assert status == 400 and body["status"] == "invalid event"
        assert any("source" in e for e in body["errors"]) and any("severity" in e for e in body["errors"])
        status, body = http("POST", f"{receivers}/v2/enqueue", {"event_action": "resolve", "dedup_key": "d"})
        assert status == 400 and any("routing_key" in e for e in body["errors"])
        status, body = http(
            "POST", f"{receivers}/v2/enqueue", {"routing_key": "k", "event_action": "explode"}
        )
        assert status == 400
        assert messages(receivers) == []


def test_since_filter_and_persistence(receivers: str, state_dir: Path) -> None:
    WebClient(token="xoxb-x", base_url=f"{receivers}/api/").chat_postMessage(channel="#a", text="old")
    time.sleep(0.05)
    cut = time.time()
    WebClient(token="xoxb-x", base_url=f"{receivers}/api/").chat_postMessage(channel="#a", text="new")
    recent = http("GET", f"{receivers}/_messages?since={cut}")[1]["messages"]
    assert [m["body"]["text"] for m in recent] == ["new"]
    lines = (state_dir / "messages.jsonl").read_text().splitlines()
    assert [json.loads(line)["body"]["text"] for line in lines] == ["old", "new"]
