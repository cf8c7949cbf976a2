"""PagerDuty Events API v2 hooks that honour the connection's host.

The provider's hooks always post to ``events.pagerduty.com`` (and the ``pagerduty`` client accepts only
``https://`` base URLs). Production keeps that default; EU-region or proxied accounts and the sandbox's local
receiver set the connection host, e.g. ``https://events.eu.pagerduty.com``. The Events API v2 is one JSON
POST, so the sync hook sends it with ``requests`` and the event body the provider prepares.
"""

from __future__ import annotations

from typing import Any

import requests
from airflow.providers.common.compat.connection import get_async_connection
from airflow.providers.pagerduty.hooks.pagerduty_events import (
    PagerdutyEventsAsyncHook,
    PagerdutyEventsHook,
    prepare_event_data,
)

from novacron_runbooks import connections

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
EVENTS_TIMEOUT_SECONDS = 10


class PagerdutyEventError(RuntimeError):
    """The Events API refused an event (bad routing key, malformed payload, throttled)."""


class RoutedPagerdutyEventsHook(PagerdutyEventsHook):
    """Send Events API v2 events to the host of the connection (default ``events.pagerduty.com``).

    :param pagerduty_events_conn_id: connection whose password is the integration (routing) key and whose
        host, when set, is the Events API base URL.
    """

    def __init__(self, pagerduty_events_conn_id: str = connections.PAGERDUTY_EVENTS) -> None:
        super().__init__(pagerduty_events_conn_id=pagerduty_events_conn_id)
        self.base_url = events_base_url(self.get_connection(pagerduty_events_conn_id).host)

    def send_event(  # type: ignore[override]
        self,
        summary: str,
        severity: str,
        source: str = "airflow",
        action: str = "trigger",
        dedup_key: str | None = None,
        custom_details: Any | None = None,
        group: str | None = None,
        component: str | None = None,
        class_type: str | None = None,
        images: list[Any] | None = None,
        links: list[Any] | None = None,
    ) -> str:
        event = prepare_event_data(
            summary=summary,
            severity=severity,
            source=source,
            custom_details=custom_details,
            component=component,
            group=group,
            class_type=class_type,
            action=action,
            dedup_key=dedup_key,
            images=images,
            links=links,
            action_key_name="event_action",
        )
        event["routing_key"] = self.integration_key
        response = requests.post(f"{self.base_url}/v2/enqueue", json=event, timeout=EVENTS_TIMEOUT_SECONDS)
        if response.status_code >= 300:
            raise PagerdutyEventError(
                f"PagerDuty refused the event ({response.status_code}): {response.text[:300]}"
            )
        return str(response.json().get("dedup_key", dedup_key))


class RoutedPagerdutyEventsAsyncHook(PagerdutyEventsAsyncHook):
    """Async twin of :class:`RoutedPagerdutyEventsHook`, for notifiers running in the triggerer."""

    def __init__(self, pagerduty_events_conn_id: str = connections.PAGERDUTY_EVENTS) -> None:
        super().__init__(pagerduty_events_conn_id=pagerduty_events_conn_id)

    async def send_event(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        conn = await get_async_connection(self.pagerduty_events_conn_id or "")
        self.base_url = events_base_url(conn.host)
        return str(await super().send_event(*args, **kwargs))


def events_base_url(host: str | None) -> str:
    """Normalise a connection host into the Events API base URL."""
    if not host:
        return DEFAULT_EVENTS_URL
    return host.rstrip("/") if "://" in host else f"https://{host.rstrip('/')}"
