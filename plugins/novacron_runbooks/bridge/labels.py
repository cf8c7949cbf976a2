"""What an alert may carry into a runbook run: strict label values, bounded annotations, one typed param.

Runbooks use alert labels to build queries and commands (the service to look at, the instance to restart),
so a label value that could close a PromQL string (``novacron-api"} or vector(1) #``) or run a shell
(``$(rm -rf /)``) is refused here, before it becomes a param; the gates quote by kind again on their side.
Known labels get their own pattern, any other label a conservative character set. Annotations are prose
for people (summary, description, links): bounded and free of control characters, never used in a query.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from novacron_runbooks.bridge.payload import Alert

LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
SAFE_VALUE = r"^[A-Za-z0-9_.:/@+=,\[\]-]{0,256}$"
"""Any other label: no quotes, braces, spaces, backslashes, ``$``, backticks or shell separators."""
LABEL_PATTERNS = {
    "alertname": r"^[A-Za-z][A-Za-z0-9_]{0,127}$",
    "runbook": r"^[a-z][a-z0-9_]{0,63}$",
    "severity": r"^(critical|warning|info)$",
    "service": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "namespace": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "instance": r"^[A-Za-z0-9_.:\[\]-]{1,253}$",
    "job": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    "category": r"^[a-z][a-z_]{0,63}$",
    "threshold": r"^[a-z][a-z0-9_]{0,63}$",
}
MAX_LABELS = 32
MAX_ANNOTATIONS = 16
MAX_ANNOTATION_LENGTH = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ALERT_PARAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "alertname": {"type": "string", "pattern": LABEL_PATTERNS["alertname"]},
        "severity": {"type": "string", "enum": ["critical", "warning", "info", ""]},
        "group_key": {"type": "string", "maxLength": 4096},
        "fingerprint": {"type": "string", "pattern": r"^[0-9a-f]{1,32}$"},
        "starts_at": {"type": "string", "format": "date-time"},
        "labels": {
            "type": "object",
            "maxProperties": MAX_LABELS,
            "propertyNames": {"pattern": LABEL_NAME},
            "additionalProperties": {"type": "string", "pattern": SAFE_VALUE},
        },
        "annotations": {
            "type": "object",
            "maxProperties": MAX_ANNOTATIONS,
            "propertyNames": {"pattern": LABEL_NAME},
            "additionalProperties": {"type": "string", "maxLength": MAX_ANNOTATION_LENGTH},
        },
        "breaker_open": {"type": "boolean"},
    },
}
"""JSON Schema of the ``alert`` param; ``{}`` (the default) is a run started by a person or CI."""


class LabelError(ValueError):
    """An alert's label or annotation is refused; the alert starts nothing."""


def check_labels(labels: dict[str, str]) -> None:
    """Refuse a label set a runbook must not receive; the message names the label, never echoes the value."""
    if len(labels) > MAX_LABELS:
        raise LabelError(f"more than {MAX_LABELS} labels")
    for name in sorted(labels):
        if not re.fullmatch(LABEL_NAME, name):
            raise LabelError(f"label name {name[:64]!r} is not a Prometheus label name")
        pattern = LABEL_PATTERNS.get(name, SAFE_VALUE)
        if not re.fullmatch(pattern, labels[name]):
            raise LabelError(f"label {name!r}: value refused (must match {pattern})")


def check_annotations(annotations: dict[str, str]) -> None:
    """Annotations are prose: bounded, no control characters other than newline and tab."""
    if len(annotations) > MAX_ANNOTATIONS:
        raise LabelError(f"more than {MAX_ANNOTATIONS} annotations")
    for name in sorted(annotations):
        value = annotations[name]
        if not re.fullmatch(LABEL_NAME, name):
            raise LabelError(f"annotation name {name[:64]!r} is not a label name")
        if len(value) > MAX_ANNOTATION_LENGTH:
            raise LabelError(f"annotation {name!r}: longer than {MAX_ANNOTATION_LENGTH} characters")
        if _CONTROL.search(value):
            raise LabelError(f"annotation {name!r}: control characters")


def check_alert(alert: Alert) -> str:
    """Check an alert's labels and annotations; return the runbook its ``runbook`` label names."""
    check_labels(alert.labels)
    check_annotations(alert.annotations)
    if not alert.labels.get("alertname"):
        raise LabelError("no 'alertname' label")
    runbook = alert.labels.get("runbook")
    if not runbook:
        raise LabelError("no 'runbook' label: the alert rule must name the runbook that handles it")
    return runbook


def alert_param(alert: Alert, group_key: str, *, breaker_open: bool) -> dict[str, Any]:
    """Build the ``alert`` param of a run from an alert that passed :func:`check_alert`."""
    return {
        "alertname": alert.labels.get("alertname", ""),
        "severity": alert.labels.get("severity", ""),
        "group_key": group_key,
        "fingerprint": alert.fingerprint,
        "starts_at": alert.startsAt.isoformat(),
        "labels": dict(sorted(alert.labels.items())),
        "annotations": dict(sorted(alert.annotations.items())),
        "breaker_open": breaker_open,
    }
