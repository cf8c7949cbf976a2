"""The NovaCron API stand-in against a real Kubernetes API emulator and a throwaway PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.aio import free_port

REPO = Path(__file__).resolve().parents[2]
NS = "novacron"


def http(method: str, url: str, body: Any = None, ctype: str = "application/json") -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    try:
        return http("GET", url)[0] == 200
    except OSError:
        return False


def spawn(args: list[str], health_url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: proc.poll() is not None or healthy(health_url), timeout=15)
    except AssertionError:
        proc.kill()
        raise
    assert proc.poll() is None, f"{args[0]} exited at start"
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def metric(text: str, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


@pytest.fixture(scope="module")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = spawn(
        [
            "sandbox.k8s",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path_factory.mktemp("k8s")),
            "--ready-delay",
            "0.2",
        ],
        f"{url}/healthz",
    )
    yield url
    stop(proc)


def start_standin(k8s: str, dsn: str, state_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = spawn(
        [
            "sandbox.standin",
            "--port",
            str(port),
            "--k8s-url",
            k8s,
            "--db-dsn",
            dsn,
            "--state-dir",
            str(state_dir),
            "--poll-interval",
            "0.2",
            "--load-rps",
            "60",
        ],
        f"{url}/healthz",
    )
    return proc, url


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with the project's schema and a little seed data."""
    try:
        bindir = Path(
            subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("PostgreSQL is not installed")
    if not (bindir / "initdb").exists() or shutil.which("psql") is None:
        pytest.skip("initdb/psql not found")
    root = Path(tempfile.mkdtemp(prefix="standin-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = root / "data"
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
        "start",
    )
    try:
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        subprocess.run([*psql, "-c", "CREATE DATABASE novacron"], check=True, capture_output=True)
        for sql in ("schema.sql", "seed.sql"):
            subprocess.run(
                [*psql, "-d", "novacron", "-f", str(REPO / "include" / "sandbox" / sql)],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [*psql, "-d", "novacron", "-c", "SELECT sandbox.seed(100)"], check=True, capture_output=True
        )
        yield f"host=127.0.0.1 port={port} dbname=novacron user=postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def standin(k8s: str, postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_standin(k8s, postgres, tmp_path_factory.mktemp("standin"))
    yield url
    stop(proc)


def scrape(url: str) -> str:
    status, text = http("GET", f"{url}/metrics")
    assert status == 200
    return text


def test_without_database_only_db_endpoints_fail(k8s: str, tmp_path: Path) -> None:
    proc, url = start_standin(
        k8s, f"host=127.0.0.1 port={free_port()} dbname=x user=x connect_timeout=1", tmp_path
    )
    try:
        wait_for(lambda: http("GET", f"{url}/api/v1/health")[0] == 200)
        status, body = http("GET", f"{url}/api/v1/vms")
        assert status == 500 and "database unavailable" in body
        text = scrape(url)
        assert metric(text, "novacron_db_up") == 0
        assert metric(text, "novacron_db_pool_connections", state="max") == 10
        assert metric(text, "novacron_db_pool_connections", state="in_use") == 0
    finally:
        stop(proc)


class TestWithDatabase:
    def test_serves_active_colour(self, standin: str) -> None:
        status, body = http("GET", f"{standin}/api/v1/vms")
        assert status == 200 and json.loads(body)["count"] == 100
        health = json.loads(http("GET", f"{standin}/api/v1/health")[1])
        assert health["version"] == "1.4.2" and health["pod"].startswith("novacron-api-blue-")
        wait_for(lambda: metric(scrape(standin), "container_cpu_usage_seconds_total", container="api") > 0)
        text = scrape(standin)
        assert (
            metric(
                text,
                "http_requests_total",
                service="novacron-api",
                version="1.4.2",
                track="stable",
                code="200",
                endpoint="/api/v1/vms",
            )
            > 0
        )
        assert metric(text, "http_request_duration_seconds_bucket", version="1.4.2", le="0.25") > 0
        assert metric(text, "kube_deployment_status_replicas_ready", deployment="novacron-api-blue") == 3
        assert metric(text, "kube_deployment_spec_replicas", deployment="novacron-api-green") == 0
        assert metric(text, "dwcp_agent_up") == 3 and metric(text, "novacron_db_up") == 1
        assert metric(text, "dwcp_bandwidth_bytes_per_second", link="dc1-dc2") > 1e8

    def test_faults_persist_and_down_stops_scrapes(self, k8s: str, postgres: str, tmp_path: Path) -> None:
        proc, url = start_standin(k8s, postgres, tmp_path)
        try:
            status, body = http("POST", f"{url}/_sandbox/faults", {"down": True, "latency_ms": 50})
            assert status == 200 and json.loads(body)["down"] is True
            assert http("POST", f"{url}/_sandbox/faults", {"error_rate": 2})[0] == 400
            assert http("GET", f"{url}/metrics")[0] == 503
            assert http("GET", f"{url}/api/v1/health")[0] == 503
        finally:
            stop(proc)
        proc, url = start_standin(k8s, postgres, tmp_path)
        try:
            assert json.loads(http("GET", f"{url}/_sandbox/faults")[1])["down"] is True
            http("POST", f"{url}/_sandbox/faults", {"clear": True})
            assert http("GET", f"{url}/metrics")[0] == 200
            assert json.loads((tmp_path / "faults.json").read_text())["latency_ms"] == 0
        finally:
            stop(proc)

    def test_switch_to_bad_green_raises_5xx(self, k8s: str, standin: str) -> None:
        apps = f"{k8s}/apis/apps/v1/namespaces/{NS}/deployments"
        smp = "application/strategic-merge-patch+json"
        bad = "registry.novacron.io/novacron/api:1.5.0-bad"
        http(
            "PATCH",
            f"{apps}/novacron-api-green",
            {"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "api", "image": bad}]}}}},
            smp,
        )
        wait_for(
            lambda: (
                json.loads(http("GET", f"{apps}/novacron-api-green")[1])["status"].get("readyReplicas") == 3
            )
        )
        http(
            "PATCH",
            f"{k8s}/api/v1/namespaces/{NS}/services/novacron-api",
            {"spec": {"selector": {"app": "novacron-api", "color": "green"}}},
            smp,
        )
        wait_for(lambda: json.loads(http("GET", f"{standin}/api/v1/health")[1]).get("version") == "1.5.0-bad")
        before = metric(scrape(standin), "http_requests_total", version="1.5.0-bad", code="500")
        time.sleep(1.5)
        text = scrape(standin)
        errors = metric(text, "http_requests_total", version="1.5.0-bad", code="500") - before
        served = metric(text, "http_requests_total", version="1.5.0-bad", endpoint="/api/v1/vms")
        assert errors >= 5 and served > 0

    def test_canary_gets_its_share(self, k8s: str, standin: str) -> None:
        labels = {"app": "novacron-api", "color": "green", "track": "canary"}
        body = {
            "metadata": {"name": "novacron-api-canary", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [{"name": "api", "image": "registry.novacron.io/novacron/api:1.6.0"}]
                    },
                },
            },
        }
        assert http("POST", f"{k8s}/apis/apps/v1/namespaces/{NS}/deployments", body)[0] == 201
        backends = lambda: json.loads(http("GET", f"{standin}/_sandbox/cluster")[1])["backends"]  # noqa: E731
        wait_for(lambda: len(backends()) == 4)
        cluster = {"backends": backends()}
        assert sorted(b["track"] for b in cluster["backends"]) == ["canary", "stable", "stable", "stable"]
        wait_for(lambda: metric(scrape(standin), "http_requests_total", track="canary", version="1.6.0") >= 5)
