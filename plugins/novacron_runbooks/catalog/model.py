"""The runbook catalog as typed, immutable objects.

The YAML definitions under ``include/runbooks`` are the single source of truth; these classes are what the
DAGs, alert rules, the Alertmanager bridge and the reports read. Each field keeps the index's own wording
(``text``) beside the numbers code acts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

Category = Literal[
    "deployment", "incident_response", "disaster_recovery", "scaling", "troubleshooting", "maintenance"
]
RiskLevel = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class Duration:
    """A time from the index: its wording and the bound code can check against."""

    text: str
    max_minutes: float | None = None
    min_minutes: float | None = None
    immediate: bool = False

    @property
    def budget(self) -> timedelta | None:
        """The upper bound as a timedelta, or None where the index gives no number."""
        return None if self.max_minutes is None else timedelta(minutes=self.max_minutes)


@dataclass(frozen=True)
class RecoveryPoint:
    """An RPO: a bound in minutes, zero for stateless services, or point-in-time recovery."""

    text: str
    max_minutes: float | None = None
    point_in_time: bool = False
    stateless: bool = False


@dataclass(frozen=True)
class Threshold:
    """A number of the index (error rate, p95, ...) that gates and alert rules read instead of literals."""

    value: float
    unit: str
    text: str
    for_minutes: float | None = None


@dataclass(frozen=True)
class EscalationLevel:
    """One rung of the index's escalation ladder."""

    level: int
    role: str
    after_minutes: float | None = None
    until_minutes: float | None = None
    condition: str | None = None
    major_incident_only: bool = False


@dataclass(frozen=True)
class Owner:
    team: str
    slack_channel: str


@dataclass(frozen=True)
class Review:
    last_reviewed: date
    next_review: date
    cadence: str

    def is_due(self, today: date) -> bool:
        return self.next_review <= today


@dataclass(frozen=True)
class Runbook:
    """One runbook of the index: metadata, thresholds, params and the steps its DAG performs."""

    name: str
    title: str
    index_entry: str
    category: Category
    purpose: str
    risk_level: RiskLevel
    risk_text: str
    mutating: bool
    steps: tuple[str, ...]
    owner: Owner
    review: Review
    escalation: tuple[EscalationLevel, ...]
    source_file: str
    page: str = ""
    when_to_use: str | None = None
    trigger_text: str | None = None
    trigger_alerts: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    response_time: Duration | None = None
    estimated_time: Duration | None = None
    rto: Duration | None = None
    rpo: RecoveryPoint | None = None
    scenarios: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    frequency: str | None = None
    manual_trigger: str | None = None
    validation: str | None = None
    escalate: bool = False
    page_pagerduty: bool = False
    lock_target: str | None = None
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    related: tuple[str, ...] = ()

    @property
    def dag_id(self) -> str:
        return self.name

    @property
    def is_critical(self) -> bool:
        return "critical" in self.severity

    @property
    def time_budget(self) -> timedelta | None:
        """How long a run may take before it overran: the RTO where there is one, else the estimated time."""
        for duration in (self.rto, self.estimated_time, self.response_time):
            if duration is not None and duration.budget is not None:
                return duration.budget
        return None

    def threshold(self, name: str) -> Threshold:
        """Return a named threshold, failing loudly when the catalog lacks it."""
        try:
            return self.thresholds[name]
        except KeyError:
            raise KeyError(f"runbook {self.name!r} has no threshold {name!r} in {self.source_file}") from None


@dataclass(frozen=True)
class IndexInfo:
    """Facts about the index as a whole, including its own inconsistencies."""

    title: str
    version: str
    last_updated: date
    next_review: date
    declared_total: int
    listed_total: int
    discrepancies: tuple[str, ...]
    review_cycle: Mapping[str, str]
    contacts: Mapping[str, str]


@dataclass(frozen=True)
class Catalog:
    """All runbooks, sorted by name, plus the index facts."""

    index: IndexInfo
    runbooks: Mapping[str, Runbook]

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self.runbooks[name] for name in sorted(self.runbooks))

    def __len__(self) -> int:
        return len(self.runbooks)

    def __contains__(self, name: object) -> bool:
        return name in self.runbooks

    def get(self, name: str) -> Runbook:
        try:
            return self.runbooks[name]
        except KeyError:
            raise KeyError(f"no runbook named {name!r} in the catalog") from None

    def by_alert(self, alertname: str) -> Runbook | None:
        """Return the runbook whose trigger names this alert, if any."""
        for runbook in self:
            if alertname in runbook.trigger_alerts:
                return runbook
        return None
