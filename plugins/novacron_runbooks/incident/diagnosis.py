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
from typing import TYPE_CHECKING, Any

from novacron_runbooks.dbsessions.health import POOL_USAGE
from novacron_runbooks.diagnostics.panels import API_POD_CPU
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


def read(hook: PrometheusHook, history: ReleaseHistory, runbook: Runbook, window: str) -> Diagnosis:
    """Read the symptoms once (``window`` is a duration the caller chose, e.g. ``2m``)."""
    service = quote(SERVICE)
    requests = f"http_requests_total{{service={service}}}"
    errors = f'http_requests_total{{service={service},code=~"5.."}}'
    recent = [
        {"revision": r.revision, "image": r.image, "result": r.result, "started_at": r.started_at}
        for r in history.started_since(runbook.threshold("recent_deployment_window").value)
        if r.result in RECENT_RESULTS
    ]
    by_version = f"sum by (version) (rate({requests}[{window}]))"
    by_endpoint = hook.query(f"sum by (endpoint, code) (rate({errors}[{window}]))")
    return Diagnosis(
        errors_by_version=hook.query(
            f"(sum by (version) (rate({errors}[{window}])) or {by_version} * 0) / {by_version}"
        ).finite_by("version"),
        errors_by_endpoint={
            f"{s.labels.get('endpoint', '?')}/{s.labels.get('code', '?')}": round(s.value, 4)
            for s in by_endpoint.samples
            if math.isfinite(s.value)
        },
        recent_releases=recent,
        pool_usage=hook.query(POOL_USAGE).first_finite(),
        database_up=hook.query("min(novacron_db_up)").first_finite(),
        max_cpu=hook.query("max(" + API_POD_CPU.replace("$rate", window) + ")").first_finite(),
        dwcp_agents_up=hook.query("sum(dwcp_agent_up)").first_finite(),
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
