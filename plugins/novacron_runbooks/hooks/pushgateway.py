"""Publish a batch job's results to a Prometheus Pushgateway, which Prometheus scrapes with ``honor_labels``.

Backups are batch jobs: there is no process for Prometheus to scrape when the alert rule asks how old the
newest verified backup is, so the job pushes its gauges and the Pushgateway keeps them. Pushes use POST
(``pushadd``): only the pushed metric names of the group are replaced, so a backup whose verification failed
pushes its success time without erasing the verified time of an earlier backup. A job that recomputes a whole
group pushes with ``replace`` (PUT) instead.

Connection (conn type ``http``, default ``novacron_pushgateway``): host, port, schema; login and password for
basic auth when the gateway sits behind one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from novacron_runbooks import connections

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prometheus_client import CollectorRegistry

PUSH_TIMEOUT_SECONDS = 10.0


class PushgatewayHook(BaseHook):
    """Push gauges to one Pushgateway.

    :param pushgateway_conn_id: connection of the Pushgateway.
    """

    conn_name_attr = "pushgateway_conn_id"
    default_conn_name = connections.PUSHGATEWAY
    conn_type = "http"
    hook_name = "Prometheus Pushgateway"

    def __init__(self, pushgateway_conn_id: str = connections.PUSHGATEWAY) -> None:
        super().__init__()
        self.pushgateway_conn_id = pushgateway_conn_id

    def _target(self) -> tuple[str, Callable[..., Any]]:
        from prometheus_client.exposition import default_handler

        conn = self.get_connection(self.pushgateway_conn_id)
        host = conn.host or ""
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}"
        url = f"{host}:{conn.port}" if conn.port else host
        if not conn.login:
            return url, default_handler
        login, password = conn.login, conn.password or ""

        def handler(url: str, method: str, timeout: float | None, headers: Any, data: bytes) -> Any:
            from prometheus_client.exposition import basic_auth_handler

            return basic_auth_handler(url, method, timeout, headers, data, login, password)

        return url, handler

    def push(
        self,
        job: str,
        gauges: Mapping[str, tuple[str, float]],
        grouping_key: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the named gauges of group ``job``/``grouping_key`` (``name -> (help, value)``)."""
        from prometheus_client import CollectorRegistry, Gauge

        registry = CollectorRegistry()
        for name, (doc, value) in sorted(gauges.items()):
            Gauge(name, doc, registry=registry).set(value)
        self.push_registry(job, registry, grouping_key)

    def push_registry(
        self,
        job: str,
        registry: CollectorRegistry,
        grouping_key: Mapping[str, str] | None = None,
        *,
        replace: bool = False,
    ) -> None:
        """Push a registry built by the caller (labelled gauges); ``replace`` swaps the whole group (PUT).

        A job that is the only writer of its group and recomputes all of it (a window's figures) replaces
        it, so a series the new figures no longer hold disappears instead of going stale.
        """
        from prometheus_client import push_to_gateway, pushadd_to_gateway

        url, handler = self._target()
        names = sorted(metric.name for metric in registry.collect())
        self.log.info("pushing %s to %s (job %s, group %s)", names, url, job, grouping_key)
        send = push_to_gateway if replace else pushadd_to_gateway
        send(
            url,
            job=job,
            registry=registry,
            grouping_key=dict(grouping_key or {}),
            timeout=PUSH_TIMEOUT_SECONDS,
            handler=handler,
        )

    def test_connection(self) -> tuple[bool, str]:
        import urllib.request

        url, _ = self._target()
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=PUSH_TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status == 200, f"GET /-/ready → {response.status}"
        except OSError as exc:
            return False, str(exc)
