"""The high-error-rate diagnosis and the remediation policy of RUNBOOKS.md, as data and a pure choice.

Reading (:func:`read`) asks Prometheus and the deployment history once; choosing (:func:`choose`) is a plain
function of what was read, so the policy can be tested and read apart from the platform:

1. a release deployed within ``recent_deployment_window`` that serves errors over the threshold → rollback;
2. the database lost (``novacron_db_up`` 0) or its pool over ``pool_usage`` → database_issues;
3. a pod's CPU over ``cpu_usage`` → scale_up;
4. otherwise no automatic remedy: people take over.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from novacron_runbooks.gates.promql import quote
from novacron_runbooks.release.gates import SERVICE, image_version

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.hooks.prometheus import PrometheusHook
    from novacron_runbooks.release.history import ReleaseHistory

RECENT_RESULTS = ("promoted", "restored", "deploying", "adopted")


@dataclass
class Diagnosis:
    """What the symptoms look like: error shares by release and endpoint, recent releases, saturation."""

    errors_by_version: dict[str, float] = field(default_factory=dict)
    errors_by_endpoint: dict[str, float] = field(default_factory=dict)
    recent_releases: list[dict[str, Any]] = field(default_factory=list)
    pool_usage: float | None = None
    database_up: float | None = None
    max_cpu: float | None = None
    dwcp_agents_up: float | None = None

    def measures(self) -> dict[str, Any]:
        return {
            "5xx share by release": self.errors_by_version,
            "5xx per second by endpoint and code": self.errors_by_endpoint,
            "releases of the last hour": [
                f"r{r['revision']} {r['image']} {r['result']}" for r in self.recent_releases
            ],
            "database": {"up": self.database_up, "pool usage": self.pool_usage},
            "max pod CPU (cores)": self.max_cpu,
            "DWCP agents up": self.dwcp_agents_up,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Diagnosis:
        return cls(**raw)


def _vector(hook: PrometheusHook, query: str, label: str) -> dict[str, float]:
    found = hook.query(query).samples
    return {
        "/".join(s.labels.get(part, "?") for part in label.split(",")): round(s.value, 4)
        for s in found
        if not (math.isnan(s.value) or math.isinf(s.value))
    }


def _scalar(hook: PrometheusHook, query: str) -> float | None:
    values = [v for v in hook.query(query).values if not (math.isnan(v) or math.isinf(v))]
    return values[0] if values else None


def read(hook: PrometheusHook, history: ReleaseHistory, runbook: Runbook, window: str) -> Diagnosis:
    """Read the symptoms once (``window`` is a duration the caller chose, e.g. ``2m``)."""
    service = quote(SERVICE)
    requests = f"http_requests_total{{service={service}}}"
    errors = f'http_requests_total{{service={service},code=~"5.."}}'
    since = datetime.now(tz=UTC) - timedelta(minutes=runbook.threshold("recent_deployment_window").value)
    recent = [
        {"revision": r.revision, "image": r.image, "result": r.result, "started_at": r.started_at}
        for r in history.records()
        if r.started_at and datetime.fromisoformat(r.started_at) >= since and r.result in RECENT_RESULTS
    ]
    by_version = f"sum by (version) (rate({requests}[{window}]))"
    return Diagnosis(
        errors_by_version=_vector(
            hook,
            f"(sum by (version) (rate({errors}[{window}])) or {by_version} * 0) / {by_version}",
            "version",
        ),
        errors_by_endpoint=_vector(
            hook, f"sum by (endpoint, code) (rate({errors}[{window}]))", "endpoint,code"
        ),
        recent_releases=recent,
        pool_usage=_scalar(
            hook,
            'max(novacron_db_pool_connections{state="in_use"}'
            ' / ignoring(state) novacron_db_pool_connections{state="max"})',
        ),
        database_up=_scalar(hook, "min(novacron_db_up)"),
        max_cpu=_scalar(
            hook, f'max(sum by (pod) (rate(container_cpu_usage_seconds_total{{container="api"}}[{window}])))'
        ),
        dwcp_agents_up=_scalar(hook, "sum(dwcp_agent_up)"),
    )


def choose(found: Diagnosis, runbook: Runbook) -> tuple[str | None, str]:
    """Return the remedy runbook (or ``None``) and why, by the policy in the module doc."""
    ceiling = runbook.threshold("error_rate").value
    for release in reversed(found.recent_releases):
        share = found.errors_by_version.get(image_version(release["image"]))
        if share is not None and share > ceiling:
            return (
                "rollback",
                f"release r{release['revision']} ({release['image']}) serves {share:.1%} errors",
            )
    if found.database_up == 0:
        return "database_issues", "the API cannot reach its database (novacron_db_up 0)"
    if found.pool_usage is not None and found.pool_usage > runbook.threshold("pool_usage").value:
        return "database_issues", f"database pool {found.pool_usage:.0%} in use"
    if found.max_cpu is not None and found.max_cpu > runbook.threshold("cpu_usage").value:
        return "scale_up", f"a pod uses {found.max_cpu:.2f} cores"
    return None, "no recent release serves the errors and nothing is saturated"
