"""Typed, validated trigger params for every runbook.

Two layers, both before anything changes: Airflow validates each ``Param`` against its JSON Schema when a run
is created (the REST API answers 400, the UI form refuses), and the first task of every runbook re-checks the
whole set with the runbook's cross-field rules, failing with an error that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException
from jsonschema import Draft202012Validator, FormatChecker

from novacron_runbooks.bridge.labels import ALERT_PARAM_SCHEMA

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook

_DOC_KEYS = {"title", "description", "examples", "secret"}
IMAGE_PATTERN = (
    r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$"
)
"""A container image as ``repository:tag`` or ``repository@sha256:<digest>`` (no shell metacharacters)."""

ParamCheck = Callable[[Mapping[str, Any]], None]


class ParamError(AirflowFailException):
    """A param is invalid; raised before the runbook changes anything, never retried."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"param {field!r}: {message}")


def dry_run_default(runbook: Runbook) -> bool:
    """Dry-run is on by default where the runbook's risk is medium or high (RUNBOOKS.md)."""
    return runbook.mutating and runbook.risk_level in {"medium", "high"}


def common_params(runbook: Runbook) -> dict[str, Param]:
    """Params every runbook takes: the reason for the run and, for mutating runbooks, dry-run and locking."""
    params: dict[str, Param] = {
        "reason": Param(
            "",
            type="string",
            maxLength=500,
            title="Reason",
            description="Why: change ticket, incident id or a sentence; shown in Slack and the report.",
        ),
        # Any runbook may be named by an alert rule's `runbook` label or started by an incident runbook that
        # passes its alert on; `{}` is a run started by a person or CI.
        "alert": Param(
            {},
            **ALERT_PARAM_SCHEMA,
            title="Alert",
            description=(
                "Set by the Alertmanager bridge: the alert that started this run (labels checked, "
                "annotations bounded) and whether the circuit breaker was open. Empty when started by hand."
            ),
        ),
    }
    if runbook.mutating:
        params["dry_run"] = Param(
            dry_run_default(runbook),
            type="boolean",
            title="Dry run",
            description="Plan only: evaluate gates and show what would change, change nothing.",
        )
        params["lock_wait_minutes"] = Param(
            15,
            type="integer",
            minimum=0,
            maximum=240,
            title="Wait for the lock (minutes)",
            description=(
                f"How long to wait while another mutating runbook holds {runbook.lock_target!r}; "
                "0 fails fast."
            ),
        )
        params["parent_run"] = Param(
            "",
            type="string",
            pattern=r"^$|^[A-Za-z0-9_.-]+/[A-Za-z0-9_.:+-]+$",
            title="Parent run",
            description=(
                "Set by a runbook that starts this one while it holds the lock (dag_id/run_id): "
                "this run then works under the parent's lock instead of waiting for it."
            ),
        )
    return params


def catalog_params(runbook: Runbook) -> dict[str, Param]:
    """Build ``Param`` objects from the catalog's JSON Schema fragments."""
    built: dict[str, Param] = {}
    for name, spec in sorted(runbook.params.items()):
        schema = {key: value for key, value in spec.items() if key not in {"default", "secret"}}
        if spec.get("secret"):
            schema["format"] = "password"
        if "default" in spec:
            built[name] = Param(spec["default"], **schema)
        else:
            built[name] = Param(**schema)
    return built


def build_params(runbook: Runbook, extra: Mapping[str, Param] | None = None) -> dict[str, Param]:
    return {**common_params(runbook), **catalog_params(runbook), **(extra or {})}


def _schema_of(param: Any) -> dict[str, Any]:
    return {key: value for key, value in param.schema.items() if key not in _DOC_KEYS}


def validate_params(
    params: Mapping[str, Any], declared: Mapping[str, Param], checks: tuple[ParamCheck, ...] = ()
) -> dict[str, Any]:
    """Validate resolved params against their schemas and the runbook's checks; return the validated values.

    Raises :class:`ParamError` naming the first bad field. Unknown keys are refused too: a typo in a CI job's
    conf (``imgae``) must not silently deploy the default.
    """
    for name in sorted(params):
        if name not in declared:
            raise ParamError(name, f"is not a param of this runbook (known: {', '.join(sorted(declared))})")
    values: dict[str, Any] = {}
    for name, param in sorted(declared.items()):
        if name not in params:
            raise ParamError(name, "is required")
        value = params[name]
        validator = Draft202012Validator(_schema_of(param), format_checker=FormatChecker())
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            raise ParamError(name, error.message)
        values[name] = value
    for check in checks:
        check(values)
    return values


def require_image(field: str) -> ParamCheck:
    """Check that ``field`` holds an image reference; the schema pattern says so too, this names the rule."""

    def check(values: Mapping[str, Any]) -> None:
        if not re.fullmatch(IMAGE_PATTERN, str(values.get(field, ""))):
            raise ParamError(
                field, f"{values.get(field)!r} is not repository:tag or repository@sha256:digest"
            )

    return check
