"""The sandbox's Pushgateway: started healthy, scraped by Prometheus with the pushed labels kept, stopped."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from sandbox_fixtures import run_sandbox

from sandbox import components
from sandbox.layout import HOST

if TYPE_CHECKING:
    from sandbox.layout import Layout

pytestmark = pytest.mark.sandbox


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _promql(layout: Layout, query: str) -> list[dict[str, Any]]:
    url = f"{layout.url('prometheus')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    return list(_get_json(url)["data"]["result"])


def _eventually(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout}s (last: {last!r})")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def test_pushgateway_is_healthy_and_exported_as_a_connection(sandbox: Layout) -> None:
    with urllib.request.urlopen(f"{sandbox.url('pushgateway')}/-/ready", timeout=5) as response:
        assert response.status == 200
    env = sandbox.connections_env.read_text()
    assert "AIRFLOW_CONN_NOVACRON_PUSHGATEWAY=" in env
    assert str(sandbox.port("pushgateway")) in env


def test_a_pushed_metric_reaches_prometheus_with_its_own_labels(sandbox: Layout) -> None:
    marker = uuid.uuid4().hex[:12]
    body = f'novacron_sandbox_push_test{{marker="{marker}"}} 42\n'.encode()
    url = f"{sandbox.url('pushgateway')}/metrics/job/sandbox_test/type/full"
    request = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status in (200, 202)
    found = _eventually(
        lambda: _promql(sandbox, f'novacron_sandbox_push_test{{marker="{marker}"}}'),
        20,
        "the pushed sample in Prometheus",
    )
    labels = found[0]["metric"]
    assert labels["job"] == "sandbox_test"  # honor_labels: the pusher's job, not "pushgateway"
    assert labels["type"] == "full"
    assert found[0]["value"][1] == "42"
    delete = urllib.request.Request(url, method="DELETE")
    urllib.request.urlopen(delete, timeout=5).close()


def test_pushgateway_stops_and_starts_again(sandbox: Layout) -> None:
    port = sandbox.port("pushgateway")
    pid = components.running_pid(sandbox, "pushgateway")
    assert pid is not None and _listening(port)
    assert components.stop(sandbox, "pushgateway") is True
    assert components.running_pid(sandbox, "pushgateway") is None
    assert not _listening(port)
    started = run_sandbox(sandbox, "start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "pushgateway" in started.stdout
    assert _listening(port)
    targets = _get_json(f"{sandbox.url('prometheus')}/api/v1/targets")["data"]["activeTargets"]
    assert any(t["labels"]["job"] == "pushgateway" or t["scrapePool"] == "pushgateway" for t in targets)
