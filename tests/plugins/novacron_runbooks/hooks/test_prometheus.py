"""The Prometheus hooks against the sandbox's real Prometheus, and against a tiny local server for the edges.

The local server records what the hook sends (auth, tenant, form body) and can answer slowly or badly, which a
real Prometheus cannot be made to do on demand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from novacron_runbooks import connections
from novacron_runbooks.hooks.prometheus import (
    AsyncPrometheusHook,
    PrometheusError,
    PrometheusHook,
    QueryResult,
)
from sandbox.aio import free_port

pytestmark = pytest.mark.sandbox
TEST_CONN = "test_prometheus"
EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakePrometheus:
    """What the local server answers, and what it was sent."""

    port: int
    status: int = 200
    body: str = json.dumps(EMPTY_VECTOR)
    delay: float = 0.0
    received: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(fake: FakePrometheus) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            fake.received.append(
                Recorded(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    dict(urllib.parse.parse_qsl(body)),
                )
            )
            if fake.delay:
                fake.release.wait(fake.delay)
            payload = fake.body.encode()
            try:
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first: that is what the timeout tests want

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state := FakePrometheus(port=0)))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _use_connection(monkeypatch, **conn: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{TEST_CONN.upper()}", json.dumps({"conn_type": "http", **conn}))


def _fake_conn(monkeypatch, fake: FakePrometheus, **conn: object) -> None:
    _use_connection(monkeypatch, host="127.0.0.1", port=fake.port, schema="http", **conn)


def _query(asynchronous: bool, promql: str, at: datetime | None = None, timeout: float | None = None) -> None:
    """Run one instant query on the test connection with the sync hook or its async twin."""
    if asynchronous:
        asyncio.run(AsyncPrometheusHook(TEST_CONN, timeout=timeout).aquery(promql, at=at))
    else:
        PrometheusHook(TEST_CONN, timeout=timeout).query(promql, at=at)


def scrape_jobs(layout) -> set[str]:
    """The scrape jobs of the Prometheus config this session's sandbox wrote (not a list kept here)."""
    config = yaml.safe_load((layout.root / "monitoring" / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def _wait_for_up(hook: PrometheusHook, jobs: set[str]) -> QueryResult:
    """``up`` has a sample per job once Prometheus has scraped each target once (every 2 s in the sandbox)."""
    deadline = time.monotonic() + 120
    while True:
        result = hook.query("up")
        if {sample.labels["job"] for sample in result.samples} >= jobs or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.fixture
def hook(sandbox) -> PrometheusHook:
    return PrometheusHook()


class TestQueriesAgainstPrometheus:
    def test_the_default_connection_is_the_sandbox_prometheus(self, hook):
        assert hook.prometheus_conn_id == connections.PROMETHEUS
        assert hook.endpoint().base_url.startswith("http://127.0.0.1:")

    def test_instant_vector(self, hook, sandbox):
        expected = scrape_jobs(sandbox)
        result = _wait_for_up(hook, expected)
        assert result.result_type == "vector"
        assert result.query == "up"
        assert result.series == []
        assert {sample.labels["job"] for sample in result.samples} == expected
        assert all(sample.labels["instance"].startswith("127.0.0.1:") for sample in result.samples)
        assert all(sample.labels["__name__"] == "up" for sample in result.samples)
        assert set(result.values) <= {0.0, 1.0}

    def test_scalar(self, hook):
        result = hook.query("scalar(vector(1))")
        assert result.result_type == "scalar"
        assert result.values == [1.0]
        assert result.samples[0].labels == {}

    def test_nan_and_infinities_are_kept(self, hook):
        assert math.isnan(hook.query("vector(0) / vector(0)").values[0])
        assert hook.query("vector(1) / vector(0)").values == [math.inf]
        assert hook.query("-vector(1) / vector(0)").values == [-math.inf]

    def test_empty_result(self, hook):
        result = hook.query('up{job="no-such-job"}')
        assert (result.result_type, result.samples, result.values) == ("vector", [], [])

    def test_string_result(self, hook):
        result = hook.query('"release"')
        assert (result.result_type, result.samples, result.series) == ("string", [], [])

    def test_evaluation_time(self, hook):
        at = datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
        assert hook.query("time()", at=at).values == [at.timestamp()]
        assert hook.query("time()", at=at.replace(tzinfo=None)).values == [at.timestamp()]

    def test_range_query_with_a_step(self, hook):
        end = datetime.now(tz=UTC).replace(microsecond=0)
        result = hook.query_range("vector(7)", end - timedelta(minutes=1), end, 15)
        assert result.result_type == "matrix"
        assert result.samples == [] and result.values == []
        (series,) = result.series
        assert [t for t, _ in series.points] == [end.timestamp() - 60 + 15 * i for i in range(5)]
        assert {v for _, v in series.points} == {7.0}

    def test_range_query_over_scraped_series(self, hook):
        job = _wait_for_up(hook, {"prometheus"}).samples[0].labels["job"]
        for _ in range(20):  # a target scraped for the first time may have no sample in the window yet
            end = datetime.now(tz=UTC).replace(microsecond=0)  # Prometheus keeps milliseconds: whole seconds
            result = hook.query_range(f'up{{job="{job}"}}', end - timedelta(seconds=10), end, 2)
            if result.series:
                break
            time.sleep(1)
        assert result.series and all(s.labels["job"] == job for s in result.series)
        assert all(end.timestamp() - 10 <= t <= end.timestamp() for s in result.series for t, _ in s.points)

    def test_syntax_error_carries_prometheus_message(self, hook):
        with pytest.raises(PrometheusError, match=r"HTTP 400, bad_data\): .*parse error"):
            hook.query("sum(rate(up[5m])")

    def test_bad_range_is_an_error(self, hook):
        end = datetime.now(tz=UTC)
        with pytest.raises(PrometheusError, match="bad_data"):
            hook.query_range("up", end, end - timedelta(minutes=1), 15)

    def test_long_query_goes_in_the_body(self, hook):
        promql = " + ".join(["vector(1)"] * 800)  # ~10 kB: too long for many proxies' URL limits
        assert hook.query(promql).values == [800.0]

    def test_connection_test(self, hook):
        ok, message = hook.test_connection()
        assert ok, message
        assert "Prometheus" in message

    def test_query_through_the_async_twin(self, sandbox):
        async def run() -> list[QueryResult]:
            hook = AsyncPrometheusHook()
            end = datetime.now(tz=UTC).replace(microsecond=0)
            return await asyncio.gather(
                hook.aquery("up"),
                hook.aquery("scalar(vector(1))"),
                hook.aquery("vector(0) / vector(0)"),
                hook.aquery("vector(1) / vector(0)"),
                hook.aquery('up{job="no-such-job"}'),
                hook.aquery("time()", at=end),
                hook.aquery_range("vector(7)", end - timedelta(minutes=1), end, 15),
            )

        _wait_for_up(PrometheusHook(), {"prometheus"})
        up, scalar, nan, inf, empty, at, matrix = asyncio.run(run())
        assert up.result_type == "vector" and up.samples
        assert (scalar.result_type, scalar.values) == ("scalar", [1.0])
        assert math.isnan(nan.values[0])
        assert inf.values == [math.inf]
        assert empty.samples == []
        assert len(at.values) == 1
        assert matrix.result_type == "matrix" and len(matrix.series[0].points) == 5

    def test_async_syntax_error(self, sandbox):
        with pytest.raises(PrometheusError, match=r"bad_data\): .*parse error"):
            asyncio.run(AsyncPrometheusHook().aquery("sum(up"))


class TestFailures:
    def test_unreachable_port(self, monkeypatch):
        port = free_port()
        _use_connection(monkeypatch, host="127.0.0.1", port=port, schema="http")
        with pytest.raises(
            PrometheusError, match=f"cannot reach Prometheus at http://127.0.0.1:{port}/api/v1"
        ):
            PrometheusHook(TEST_CONN).query("up")
        with pytest.raises(
            PrometheusError, match=f"cannot reach Prometheus at http://127.0.0.1:{port}/api/v1"
        ):
            asyncio.run(AsyncPrometheusHook(TEST_CONN).aquery("up"))
        assert PrometheusHook(TEST_CONN).test_connection()[0] is False

    @pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
    def test_timeout(self, monkeypatch, fake, asynchronous):
        fake.delay = 5
        _fake_conn(monkeypatch, fake)
        started = time.monotonic()
        with pytest.raises(PrometheusError, match=rf"{fake.url}/api/v1/query did not answer within 0.3s"):
            _query(asynchronous, "up", timeout=0.3)
        assert time.monotonic() - started < 3

    def test_timeout_from_the_connection_extra(self, monkeypatch, fake):
        fake.delay = 5
        _fake_conn(monkeypatch, fake, extra={"timeout": 0.2})
        with pytest.raises(PrometheusError, match="within 0.2s"):
            PrometheusHook(TEST_CONN).query("up")

    @pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
    def test_http_error_without_api_body(self, monkeypatch, fake, asynchronous):
        fake.status, fake.body = 502, "<html>Bad Gateway from the proxy</html>"
        _fake_conn(monkeypatch, fake, login="sre", password="s3cret-password")
        with pytest.raises(PrometheusError, match=r"HTTP 502, not an API response: <html>Bad Gatew") as info:
            _query(asynchronous, "up")
        assert "s3cret-password" not in str(info.value)

    def test_api_error_envelope(self, monkeypatch, fake):
        fake.status = 503
        fake.body = json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"})
        _fake_conn(monkeypatch, fake)
        with pytest.raises(PrometheusError, match=r"HTTP 503, timeout\): query timed out"):
            PrometheusHook(TEST_CONN).query("up")

    def test_success_status_with_error_envelope(self, monkeypatch, fake):
        fake.body = json.dumps({"status": "error", "errorType": "execution", "error": "boom"})
        _fake_conn(monkeypatch, fake)
        with pytest.raises(PrometheusError, match=r"execution\): boom"):
            PrometheusHook(TEST_CONN).query("up")

    def test_native_histograms_are_refused_not_misread(self, monkeypatch, fake):
        item = {"metric": {}, "histogram": [1.0, {"count": "3", "sum": "1", "buckets": []}]}
        fake.body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [item]}})
        _fake_conn(monkeypatch, fake)
        with pytest.raises(PrometheusError, match="native histograms"):
            PrometheusHook(TEST_CONN).query("http_request_duration_seconds")

    def test_malformed_result(self, monkeypatch, fake):
        fake.body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{}]}})
        _fake_conn(monkeypatch, fake)
        with pytest.raises(PrometheusError, match="unexpected vector result"):
            PrometheusHook(TEST_CONN).query("up")

    @pytest.mark.parametrize(
        ("conn", "message"),
        [
            ({"host": "127.0.0.1", "schema": "novacron"}, "schema must be http or https"),
            ({"host": ""}, "needs an http"),
            ({"host": "127.0.0.1", "extra": {"timeout": "soon"}}, "'timeout' must be a positive"),
            ({"host": "127.0.0.1", "extra": {"timeout": 0}}, "'timeout' must be a positive"),
            ({"host": "127.0.0.1", "extra": {"verify_ssl": "maybe"}}, "'verify_ssl' must be true or false"),
            ({"host": "127.0.0.1", "extra": {"headers": ["X-A"]}}, "'headers' must be a JSON object"),
        ],
        ids=["schema", "no-host", "timeout-text", "timeout-zero", "verify", "headers"],
    )
    def test_misconfigured_connection(self, monkeypatch, conn, message):
        _use_connection(monkeypatch, **conn)
        with pytest.raises(PrometheusError, match=message):
            PrometheusHook(TEST_CONN).query("up")

    def test_constructor_timeout_must_be_positive(self):
        with pytest.raises(ValueError, match="positive"):
            PrometheusHook(timeout=0)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestWhatIsSent:
    @pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
    def test_basic_auth_and_form_body(self, monkeypatch, fake, asynchronous):
        _fake_conn(monkeypatch, fake, login="sre", password="pa:ss word")
        at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        _query(asynchronous, 'up{job="api"}', at=at, timeout=4)
        (sent,) = fake.received
        assert (sent.method, sent.path) == ("POST", "/api/v1/query")
        assert sent.headers["Authorization"] == _basic("sre", "pa:ss word")
        assert sent.form == {"query": 'up{job="api"}', "time": repr(at.timestamp()), "timeout": "4.0"}

    @pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
    def test_bearer_tenant_and_extra_headers(self, monkeypatch, fake, asynchronous):
        extra = {"bearer_token": "tok-123456", "tenant_id": "team-sre", "headers": {"X-Trace": "gate-1"}}
        _fake_conn(monkeypatch, fake, login="ignored", password="ignored-password", extra=extra)
        end = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        if asynchronous:
            asyncio.run(AsyncPrometheusHook(TEST_CONN).aquery_range("up", end - timedelta(hours=1), end, 30))
        else:
            PrometheusHook(TEST_CONN).query_range("up", end - timedelta(hours=1), end, 30)
        (sent,) = fake.received
        assert sent.path == "/api/v1/query_range"
        assert sent.headers["Authorization"] == "Bearer tok-123456"
        assert sent.headers["X-Scope-OrgID"] == "team-sre"
        assert sent.headers["X-Trace"] == "gate-1"
        assert sent.form == {
            "query": "up",
            "start": repr((end - timedelta(hours=1)).timestamp()),
            "end": repr(end.timestamp()),
            "step": "30.0",
            "timeout": "10.0",
        }

    def test_host_url_with_path_prefix_and_credentials(self, monkeypatch, fake):
        _use_connection(monkeypatch, host=f"http://reader:url-secret@127.0.0.1:{fake.port}/prometheus/")
        hook = PrometheusHook(TEST_CONN)
        hook.query("up")
        (sent,) = fake.received
        assert sent.path == "/prometheus/api/v1/query"
        assert sent.headers["Authorization"] == _basic("reader", "url-secret")
        assert "url-secret" not in repr(hook.endpoint())
        assert hook.endpoint().base_url == f"http://127.0.0.1:{fake.port}/prometheus"

    def test_host_with_path_and_separate_port(self, monkeypatch, fake):
        _use_connection(monkeypatch, host="127.0.0.1/mimir/prometheus", port=fake.port, schema="http")
        PrometheusHook(TEST_CONN).query("up")
        assert fake.received[0].path == "/mimir/prometheus/api/v1/query"

    def test_no_auth_headers_without_credentials(self, monkeypatch, fake):
        _fake_conn(monkeypatch, fake)
        PrometheusHook(TEST_CONN).query("up")
        assert "Authorization" not in fake.received[0].headers
        assert "X-Scope-OrgID" not in fake.received[0].headers

    def test_connection_test_falls_back_to_ready(self, monkeypatch, fake):
        fake.status, fake.body = 404, "not found"
        _fake_conn(monkeypatch, fake)
        assert PrometheusHook(TEST_CONN).test_connection()[0] is False
        assert [r.path for r in fake.received] == ["/api/v1/status/buildinfo", "/-/ready"]

    def test_ui_field_behaviour(self):
        behaviour = PrometheusHook.get_ui_field_behaviour()
        assert json.loads(behaviour["placeholders"]["extra"])["timeout"] == 10
