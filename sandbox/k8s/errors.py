"""Kubernetes ``Status`` errors.

Clients branch on ``code`` and ``reason`` (e.g. a lock taker retries on 409 Conflict but not on 404), so every
failure leaves the server as a proper ``Status`` object rather than a bare HTTP error.
"""

from __future__ import annotations

from typing import Any

_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


class ApiError(Exception):
    """An error that the HTTP layer renders as a Kubernetes ``Status``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        """Render as the ``Status`` body the apiserver would send."""
        return failure_status(self.code, self.reason, self.message, self.details)


def failure_status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build a failure ``Status`` (also used for watch ``ERROR`` events)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def success_status(details: dict[str, Any]) -> dict[str, Any]:
    """Build the ``Status`` a successful delete of a non-pod object returns."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    """Message text matches the apiserver's, which runbook logs quote."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        404, f'{what} "{name}" not found', "NotFound", {"name": name, "group": group, "kind": plural}
    )


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    """Report a create of a name that is taken."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'{what} "{name}" already exists',
        "AlreadyExists",
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    """Report a write based on a stale ``resourceVersion`` (optimistic concurrency)."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        {"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """Report a schema violation; ``causes`` are (field, message) pairs."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {text}',
        "Invalid",
        {
            "name": name,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        },
    )
