"""Prometheus HTTP API hooks: instant and range queries for metric gates, sync (poke) and async (triggers).

Why not the http provider's ``HttpHook``: a gate needs the API envelope parsed into typed results with NaN and
±Inf kept (a gate must tell "no traffic" from "healthy"), every failure turned into the one exception a gate
counts as an error, and an aiohttp twin for the triggerer. The connection also serves multi-tenant
Cortex/Mimir/Thanos front ends: a path prefix in the host and the tenant in ``X-Scope-OrgID``.

Connection (any conn type): host (``prometheus:9090``, or a URL with scheme and path prefix such as
``https://mimir.example.com/prometheus``), schema (``http``/``https`` when the host has no scheme), port;
login + password for basic auth. Extras: ``bearer_token``, ``tenant_id``, ``timeout`` (seconds, default 10),
``verify_ssl`` (default true), ``headers`` (an object of further headers).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow.providers.common.compat.connection import get_async_connection
from airflow.sdk import BaseHook

from novacron_runbooks import connections

if TYPE_CHECKING:
    import requests
    from airflow.sdk import Connection

DEFAULT_TIMEOUT_SECONDS = 10.0
BODY_SNIPPET_CHARS = 300


class PrometheusError(Exception):
    """Transport, HTTP, timeout or API error (a gate counts it as an error, never a pass)."""


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector, or the value of a scalar (labels ``{}``); may be NaN or ±Inf."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: ``(unix time, value)`` points in time order."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class QueryResult:
    """A successful query: ``samples`` for vector and scalar results, ``series`` for matrix results."""

    result_type: str
    samples: list[Sample]
    series: list[Series]
    query: str

    @property
    def values(self) -> list[float]:
        """Return the sample values (vector/scalar) in Prometheus's order."""
        return [sample.value for sample in self.samples]

    def first_finite(self) -> float | None:
        """Return the first sample value that is a number (NaN and ±Inf are no reading), else ``None``."""
        return next((v for v in self.values if math.isfinite(v)), None)

    def finite_by(self, label: str, digits: int = 4) -> dict[str, float]:
        """Return ``{label value: sample value}`` of the finite samples (``?`` where the label is missing)."""
        return {
            s.labels.get(label, "?"): round(s.value, digits) for s in self.samples if math.isfinite(s.value)
        }


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the API, resolved from a connection; the secrets stay out of its repr."""

    base_url: str
    headers: dict[str, str] = field(repr=False)
    auth: tuple[str, str] | None = field(repr=False)
    timeout: float
    verify_ssl: bool

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _base_url(host: str | None, schema: str | None, port: int | None) -> tuple[str, tuple[str, str] | None]:
    """Build the base URL from host/schema/port; credentials written into the host are moved out of it."""
    text = (host or "").strip().rstrip("/")
    if "://" not in text:
        if (schema or "http").lower() not in ("http", "https"):
            raise PrometheusError(f"the connection's schema must be http or https, not {schema!r}")
        text = f"{(schema or 'http').lower()}://{text}"
    parts = urlsplit(text)
    try:
        port = parts.port or port
    except ValueError:
        raise PrometheusError("the Prometheus connection's host has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrometheusError("the Prometheus connection needs an http(s) host")
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{hostname}:{port}" if port else hostname
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", auth


def _extra_settings(extra: dict[str, Any], timeout: float | None) -> tuple[dict[str, str], float, bool]:
    """Validate the extras every connection may carry: ``headers``, ``timeout``, ``verify_ssl``."""
    headers = extra.get("headers") or {}
    if isinstance(headers, str):
        try:
            headers = json.loads(headers)
        except ValueError:
            headers = None
    if not isinstance(headers, dict):
        raise PrometheusError("the connection's extra 'headers' must be a JSON object")
    try:
        seconds = float(timeout if timeout is not None else extra.get("timeout", DEFAULT_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise PrometheusError("the connection's extra 'timeout' must be a positive number of seconds")
    verify = extra.get("verify_ssl", True)
    if not isinstance(verify, bool):
        if str(verify).strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise PrometheusError("the connection's extra 'verify_ssl' must be true or false")
        verify = str(verify).strip().lower() in ("true", "1", "yes")
    return {str(name): str(value) for name, value in headers.items()}, seconds, verify


def endpoint_from_connection(conn: Connection, extra: dict[str, Any], timeout: float | None) -> Endpoint:
    """Resolve ``conn`` (with its already decoded ``extra``) into an :class:`Endpoint`.

    A bearer token wins over basic auth; the tenant and the token win over the same names in ``headers``.
    """
    base_url, url_auth = _base_url(conn.host, conn.schema, conn.port)
    headers, seconds, verify = _extra_settings(extra, timeout)
    if extra.get("tenant_id"):
        headers["X-Scope-OrgID"] = str(extra["tenant_id"])
    auth = (conn.login, conn.password or "") if conn.login else url_auth
    if extra.get("bearer_token"):
        headers["Authorization"] = f"Bearer {extra['bearer_token']}"
        auth = None
    return Endpoint(base_url, headers, auth, seconds, verify)


def _envelope(status: int, body: str, url: str) -> dict[str, Any]:
    """Return the API envelope of a successful answer; raise :class:`PrometheusError` for any other."""
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "status" not in envelope:
        snippet = " ".join(body.split())[:BODY_SNIPPET_CHARS]
        raise PrometheusError(f"Prometheus at {url} answered HTTP {status}, not an API response: {snippet}")
    if envelope["status"] != "success" or not 200 <= status < 300:
        kind = envelope.get("errorType") or "error"
        raise PrometheusError(
            f"Prometheus refused the query (HTTP {status}, {kind}): {envelope.get('error')}"
        )
    return envelope


def _point(pair: list[Any]) -> tuple[float, float]:
    """``[1700000000.5, "NaN"]`` → ``(1700000000.5, nan)``: Prometheus sends values as strings."""
    return float(pair[0]), float(pair[1])


def parse_result(data: dict[str, Any], query: str) -> QueryResult:
    """Turn the envelope's ``data`` into a :class:`QueryResult`."""
    result_type, result = data.get("resultType"), data.get("result", [])
    if result_type in ("vector", "matrix") and any("histogram" in k for item in result for k in item):
        raise PrometheusError(
            "native histograms have no float value: query e.g. histogram_quantile() of them"
        )
    try:
        if result_type == "vector":
            samples = [Sample(dict(item.get("metric", {})), _point(item["value"])[1]) for item in result]
            return QueryResult("vector", samples, [], query)
        if result_type == "scalar":
            return QueryResult("scalar", [Sample({}, _point(result)[1])], [], query)
        if result_type == "matrix":
            series = [
                Series(dict(item.get("metric", {})), [_point(p) for p in item["values"]]) for item in result
            ]
            return QueryResult("matrix", [], series, query)
        if result_type == "string":
            return QueryResult("string", [], [], query)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise PrometheusError(f"unexpected {result_type} result from Prometheus: {exc!r}") from None
    raise PrometheusError(f"unknown result type {result_type!r} from Prometheus")


def _time(moment: datetime) -> str:
    """Unix time of ``moment``; a naive datetime is taken as UTC, as everywhere in Airflow."""
    return repr((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _instant_form(promql: str, at: datetime | None, endpoint: Endpoint) -> dict[str, str]:
    # Prometheus's own ``timeout`` makes the server stop evaluating when the client gives up.
    form = {"query": promql, "timeout": repr(endpoint.timeout)}
    return form if at is None else {**form, "time": _time(at)}


def _range_form(
    promql: str, start: datetime, end: datetime, step: float, endpoint: Endpoint
) -> dict[str, str]:
    return {
        "query": promql,
        "start": _time(start),
        "end": _time(end),
        "step": repr(float(step)),
        "timeout": repr(endpoint.timeout),
    }


_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration_seconds(text: str) -> float:
    """Parse a Prometheus duration (``15s``, ``1m30s``) into seconds; :class:`PrometheusError` if bad."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise PrometheusError(f"{text!r} is not a Prometheus duration")
    return sum(int(n) * _DURATION_SECONDS[u] for n, u in parts)


class PrometheusHook(BaseHook):
    """Query the Prometheus HTTP API; every failure raises :class:`PrometheusError`.

    Queries are POSTed as forms, so a long PromQL never meets a URL length limit.

    :param prometheus_conn_id: the connection (see the module docstring for its fields and extras).
    :param timeout: seconds to wait for an answer; wins over the connection's extra ``timeout``.
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = connections.PROMETHEUS
    conn_type = "http"
    hook_name = "Prometheus"

    def __init__(
        self, prometheus_conn_id: str = connections.PROMETHEUS, timeout: float | None = None
    ) -> None:
        super().__init__()
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.prometheus_conn_id = prometheus_conn_id
        self.timeout = timeout
        self._endpoint: Endpoint | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {"host": "Host or base URL", "schema": "Scheme", "login": "Basic auth user"},
            "placeholders": {
                "host": "prometheus:9090 or https://mimir.example.com/prometheus",
                "extra": '{"bearer_token": "", "tenant_id": "", "timeout": 10, "verify_ssl": true}',
            },
        }

    def endpoint(self) -> Endpoint:
        """Resolve the connection once per hook: the connection, not a run, is its only input."""
        if self._endpoint is None:
            conn = self.get_connection(self.prometheus_conn_id)
            self._endpoint = endpoint_from_connection(conn, conn.extra_dejson, self.timeout)
        return self._endpoint

    def query(self, promql: str, at: datetime | None = None) -> QueryResult:
        """Evaluate ``promql`` at ``at`` (default: Prometheus's now) via ``/api/v1/query``."""
        return self._post("/api/v1/query", _instant_form(promql, at, self.endpoint()), promql)

    def query_range(self, promql: str, start: datetime, end: datetime, step_seconds: float) -> QueryResult:
        """Evaluate ``promql`` every ``step_seconds`` from ``start`` to ``end`` (``/api/v1/query_range``)."""
        form = _range_form(promql, start, end, step_seconds, self.endpoint())
        return self._post("/api/v1/query_range", form, promql)

    def scrape_interval_seconds(self, job: str) -> float:
        """Return the scrape interval of ``job``'s active targets (the longest, if they differ).

        Rate windows and analysis intervals are only meaningful in multiples of it, so runbooks read it from
        the Prometheus they query rather than trusting a copy in their own configuration.
        """
        response = self._send("GET", "/api/v1/targets?state=active")
        envelope = _envelope(response.status_code, response.content.decode("utf-8", "replace"), response.url)
        found = [
            parse_duration_seconds(str(t.get("scrapeInterval", "")))
            for t in (envelope.get("data") or {}).get("activeTargets") or []
            if (t.get("labels") or {}).get("job") == job
        ]
        if not found:
            raise PrometheusError(f"Prometheus has no active target for job {job!r}")
        return max(found)

    def _send(self, method: str, path: str, form: dict[str, str] | None = None) -> requests.Response:
        import requests

        endpoint = self.endpoint()
        url = endpoint.url(path)
        try:
            return requests.request(
                method,
                url,
                data=form,
                headers=endpoint.headers,
                auth=endpoint.auth,
                timeout=endpoint.timeout,
                verify=endpoint.verify_ssl,
            )
        except requests.Timeout:
            raise PrometheusError(
                f"Prometheus at {url} did not answer within {endpoint.timeout:g}s"
            ) from None
        except requests.RequestException as exc:
            raise PrometheusError(f"cannot reach Prometheus at {url}: {exc}") from exc

    def _post(self, path: str, form: dict[str, str], promql: str) -> QueryResult:
        self.log.debug("Prometheus %s: %s", path, promql)
        response = self._send("POST", path, form)
        body = response.content.decode("utf-8", "replace")
        return self._result(response.status_code, body, self.endpoint().url(path), promql)

    def _result(self, status: int, body: str, url: str, promql: str) -> QueryResult:
        envelope = _envelope(status, body, url)
        for warning in [*(envelope.get("warnings") or []), *(envelope.get("infos") or [])]:
            self.log.warning("Prometheus says about %s: %s", promql, warning)
        return parse_result(envelope.get("data") or {}, promql)

    def test_connection(self) -> tuple[bool, str]:
        """Check the API answers: its build info, or ``/-/ready`` where a front end has no build info."""
        try:
            base_url = self.endpoint().base_url
            response = self._send("GET", "/api/v1/status/buildinfo")
            if response.ok:
                version = response.json().get("data", {}).get("version", "?")
                return True, f"Prometheus {version} at {base_url} answers"
            response = self._send("GET", "/-/ready")
            if response.ok:
                return True, f"Prometheus at {base_url} is ready"
            return False, f"Prometheus at {base_url} answered HTTP {response.status_code}"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"


class AsyncPrometheusHook(PrometheusHook):
    """Async twin of :class:`PrometheusHook` for triggers: aiohttp, and no blocking call on the event loop."""

    async def aendpoint(self) -> Endpoint:
        """Async :meth:`PrometheusHook.endpoint`."""
        if self._endpoint is None:
            conn = await get_async_connection(self.prometheus_conn_id, self)
            self._endpoint = endpoint_from_connection(conn, await conn.aextra_dejson(), self.timeout)
        return self._endpoint

    async def aquery(self, promql: str, at: datetime | None = None) -> QueryResult:
        """Async :meth:`PrometheusHook.query`."""
        return await self._apost("/api/v1/query", _instant_form(promql, at, await self.aendpoint()), promql)

    async def aquery_range(
        self, promql: str, start: datetime, end: datetime, step_seconds: float
    ) -> QueryResult:
        """Async :meth:`PrometheusHook.query_range`."""
        form = _range_form(promql, start, end, step_seconds, await self.aendpoint())
        return await self._apost("/api/v1/query_range", form, promql)

    async def _apost(self, path: str, form: dict[str, str], promql: str) -> QueryResult:
        import aiohttp

        endpoint = await self.aendpoint()
        url = endpoint.url(path)
        auth = aiohttp.BasicAuth(*endpoint.auth) if endpoint.auth else None
        self.log.debug("Prometheus %s: %s", path, promql)
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=endpoint.timeout), trust_env=True
                ) as session,
                session.post(
                    url, data=form, headers=endpoint.headers, auth=auth, ssl=endpoint.verify_ssl
                ) as resp,
            ):
                status, body = resp.status, (await resp.read()).decode("utf-8", "replace")
        except TimeoutError:
            raise PrometheusError(
                f"Prometheus at {url} did not answer within {endpoint.timeout:g}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise PrometheusError(f"cannot reach Prometheus at {url}: {exc}") from exc
        return self._result(status, body, url, promql)
