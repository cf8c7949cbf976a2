"""Build the Prometheus rule groups of the runbook index from the catalog.

Every runbook that lists ``trigger.alerts`` gets the rules of :data:`~novacron_runbooks.alerts.specs.SPECS`
for those alerts, with the threshold value and ``for`` read from the runbook's ``thresholds``, labels that
name the runbook (its DAG id) for the Alertmanager bridge, and a link to the DAG. An alert of the catalog
without a spec, a spec naming a threshold the runbook lacks, or a threshold in a unit the metric cannot be
compared with is an error naming the runbook file: a rule that silently drifted from the catalog would be
worse than none.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from novacron_runbooks.alerts.specs import RATE_WINDOW, SPECS, RuleSpec

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from novacron_runbooks.catalog import Catalog, Runbook, Threshold

BASE_URL_ENV = "NOVACRON_AIRFLOW_BASE_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
GROUP_PREFIX = "novacron-runbooks"
SEVERITIES = ("critical", "warning", "info")
_SECONDS_PER = {"seconds": 1, "minutes": 60}


class AlertRuleError(ValueError):
    """The catalog and the rule specs disagree; the message names the runbook file and the field."""

    def __init__(self, source: str, field: str, message: str) -> None:
        super().__init__(f"{source}: {field}: {message}")


@dataclass(frozen=True)
class AlertRule:
    """One Prometheus alerting rule, in the order its YAML lists the fields."""

    alert: str
    expr: str
    for_: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def category(self) -> str:
        return self.labels["category"]

    def as_dict(self) -> dict[str, Any]:
        """Return the rule as Prometheus reads it (``for`` omitted where the catalog gives no duration)."""
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ is not None:
            rule["for"] = self.for_
        rule["labels"] = dict(self.labels)
        rule["annotations"] = dict(self.annotations)
        return rule


def airflow_base_url() -> str:
    """Where runbook links point: ``NOVACRON_AIRFLOW_BASE_URL`` at generation time, else the local default."""
    return (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def number(value: float) -> str:
    """Format a catalog number as PromQL reads it, without float noise (0.01, 0.5, 60)."""
    value = round(float(value), 9)
    return str(int(value)) if value.is_integer() else repr(value)


def duration(seconds: float) -> str:
    """Format seconds as a PromQL duration in its largest exact unit (``500ms``, ``5m``, ``25h``)."""
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _bound(runbook: Runbook, key: str, threshold: Threshold, spec: RuleSpec) -> dict[str, str]:
    """Convert a threshold to the metric's unit: PromQL bound, readable limit and, for times, a window."""
    field = f"thresholds.{key}.unit"
    unit, value = threshold.unit, threshold.value
    if spec.measure == "seconds" and unit in _SECONDS_PER:
        bound = number(value) if unit == "seconds" else f"{number(value)} * {_SECONDS_PER[unit]}"
        window = duration(value * _SECONDS_PER[unit])
        return {"bound": bound, "limit": window, "window": window}
    if spec.measure == "ratio" and unit in ("ratio", "percent"):
        percent = value * 100 if unit == "ratio" else value
        bound = number(value) if unit == "ratio" else f"{number(value)} / 100"
        return {"bound": bound, "limit": f"{number(percent)}%"}
    if spec.measure == "count" and unit == "count":
        return {"bound": number(value), "limit": number(value)}
    message = f"{spec.alert} compares {spec.measure}, which a {unit!r} value cannot bound"
    raise AlertRuleError(runbook.source_file, field, message)


def _values(runbook: Runbook, spec: RuleSpec) -> tuple[dict[str, str], float | None]:
    """Return the placeholder values of a spec and the rule's ``for`` in minutes."""
    values = {"rate": RATE_WINDOW}
    if spec.threshold is None:
        return values, spec.fallback_for_minutes
    try:
        threshold = runbook.threshold(spec.threshold)
    except KeyError:
        raise AlertRuleError(
            runbook.source_file,
            f"thresholds.{spec.threshold}",
            f"is missing, and alert {spec.alert} takes its bound from it",
        ) from None
    if not math.isfinite(threshold.value):
        raise AlertRuleError(runbook.source_file, f"thresholds.{spec.threshold}.value", "must be finite")
    if "{{" in threshold.text or "}}" in threshold.text:
        raise AlertRuleError(
            runbook.source_file, f"thresholds.{spec.threshold}.text", "must not contain {{ or }}"
        )
    values.update(_bound(runbook, spec.threshold, threshold, spec), text=threshold.text)
    minutes = threshold.for_minutes if threshold.for_minutes is not None else spec.fallback_for_minutes
    return values, minutes


def _severity(runbook: Runbook, spec: RuleSpec) -> str:
    """Return the runbook's one severity, the one the spec picks from several, or the spec's own."""
    listed = runbook.severity
    chosen = spec.severity if spec.severity is not None else (listed[0] if len(listed) == 1 else None)
    if chosen is None:
        reason = f"lists {list(listed)}" if listed else "lists none"
        raise AlertRuleError(
            runbook.source_file, "severity", f"{reason}; the {spec.alert} spec must say which one it takes"
        )
    if (listed and chosen not in listed) or chosen not in SEVERITIES:
        raise AlertRuleError(
            runbook.source_file, "severity", f"{spec.alert} wants {chosen!r}, not one of {list(listed)}"
        )
    return chosen


def _rule(runbook: Runbook, spec: RuleSpec, base_url: str) -> AlertRule:
    values, for_minutes = _values(runbook, spec)
    try:
        expr, summary, description = (t % values for t in (spec.expr, spec.summary, spec.description))
    except KeyError as exc:
        raise AlertRuleError(
            runbook.source_file,
            f"thresholds.{spec.threshold}",
            f"gives no {exc.args[0]!r}, which the {spec.alert} rule needs (wrong unit?)",
        ) from None
    dag_id = spec.route_to or runbook.dag_id
    labels = {"severity": _severity(runbook, spec), "runbook": dag_id, "category": runbook.category}
    if spec.threshold is not None:
        labels["threshold"] = spec.threshold
    return AlertRule(
        alert=spec.alert,
        expr=expr,
        for_=None if not for_minutes else duration(for_minutes * 60),
        labels=labels,
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": f"{base_url}/dags/{dag_id}",
            "dag_id": dag_id,
        },
    )


def build_rules(catalog: Catalog, base_url: str | None = None) -> list[AlertRule]:
    """Return every rule of the catalog, in catalog order (runbook name, then its trigger's alert order)."""
    base = (base_url or airflow_base_url()).rstrip("/")
    rules: list[AlertRule] = []
    for runbook in catalog:
        for i, alert in enumerate(runbook.trigger_alerts):
            specs = [spec for spec in SPECS if spec.alert == alert]
            if not specs:
                raise AlertRuleError(
                    runbook.source_file,
                    f"trigger.alerts[{i}]",
                    f"alert {alert!r} has no rule spec in novacron_runbooks.alerts.specs",
                )
            rules.extend(_rule(runbook, spec, base) for spec in specs)
    return rules


def build_groups(catalog: Catalog, base_url: str | None = None) -> list[dict[str, Any]]:
    """Return the rule groups, one per category, sorted by category name."""
    by_category: dict[str, list[AlertRule]] = {}
    for rule in build_rules(catalog, base_url):
        by_category.setdefault(rule.category, []).append(rule)
    return [
        {"name": f"{GROUP_PREFIX}.{category}", "rules": [rule.as_dict() for rule in by_category[category]]}
        for category in sorted(by_category)
    ]


def unlisted_alerts(catalog: Catalog, specs: Iterable[RuleSpec] = SPECS) -> list[str]:
    """Alerts with a spec that no runbook's trigger lists: they get no rule, and the CLI says so."""
    listed = {alert for runbook in catalog for alert in runbook.trigger_alerts}
    return sorted({spec.alert for spec in specs} - listed)


def substituted_severities(catalog: Catalog) -> list[str]:
    """Rules whose severity the spec supplies because the runbook's catalog entry has none (for reports)."""
    return sorted(
        {
            f"{spec.alert} ({runbook.name}): {spec.severity}"
            for runbook in catalog
            if not runbook.severity
            for spec in SPECS
            if spec.alert in runbook.trigger_alerts
        }
    )
