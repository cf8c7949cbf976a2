"""Alertmanager's webhook payload (version 4), checked before anything else happens.

A payload that is not what Alertmanager sends is refused as a whole with the path of the first bad field
(``alerts.0.startsAt: ...``), so a misconfigured sender sees why and nothing starts. Label *values* are not
judged here: one alert with a bad label must not hide the others of its notification (see ``labels``).
"""

from __future__ import annotations

import json
from datetime import datetime  # noqa: TC003 - pydantic resolves the annotations at runtime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_ALERTS = 1000
"""Alertmanager sends every alert of a group when ``max_alerts`` is 0; a bigger notification is refused."""


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook v4 payload; ``field`` names where it went wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class _Model(BaseModel):
    # Alertmanager adds fields over time (truncatedAlerts, groupLabels, ...): unknown ones are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Alert(_Model):
    """One alert of a notification, as Alertmanager sends it."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime  # noqa: N815 - Alertmanager's own field names
    endsAt: datetime | None = None  # noqa: N815
    fingerprint: str = Field(pattern=r"^[0-9a-f]{1,32}$")
    generatorURL: str = ""  # noqa: N815


class Notification(_Model):
    """A webhook notification: one alert group's current alerts."""

    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]+$")  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS)


def parse_notification(body: bytes) -> Notification:
    """Parse and check a webhook body; raise :class:`PayloadError` naming the first bad field."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PayloadError("", f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("", "body must be a JSON object (an Alertmanager webhook v4 payload)")
    try:
        return Notification.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PayloadError(field, first["msg"]) from None
