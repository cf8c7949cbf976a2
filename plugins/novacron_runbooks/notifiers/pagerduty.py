"""The PagerDuty provider's notifier, routed through :mod:`novacron_runbooks.hooks.pagerduty`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.providers.pagerduty.notifications.pagerduty import PagerdutyNotifier

from novacron_runbooks import connections
from novacron_runbooks.hooks.pagerduty import RoutedPagerdutyEventsAsyncHook, RoutedPagerdutyEventsHook

if TYPE_CHECKING:
    from airflow.providers.pagerduty.hooks.pagerduty_events import (
        PagerdutyEventsAsyncHook,
        PagerdutyEventsHook,
    )


class RoutedPagerdutyNotifier(PagerdutyNotifier):
    """:class:`PagerdutyNotifier` that posts to the connection's host (the sandbox receiver in tests)."""

    def __init__(self, *, pagerduty_events_conn_id: str = connections.PAGERDUTY_EVENTS, **kwargs: object):
        super().__init__(pagerduty_events_conn_id=pagerduty_events_conn_id, **kwargs)  # type: ignore[arg-type]

    @cached_property
    def hook(self) -> PagerdutyEventsHook:
        return RoutedPagerdutyEventsHook(pagerduty_events_conn_id=self.pagerduty_events_conn_id or "")

    @cached_property
    def hook_async(self) -> PagerdutyEventsAsyncHook:
        return RoutedPagerdutyEventsAsyncHook(self.pagerduty_events_conn_id or "")
