"""The upgrade's preflight: no deploy or database work running, no open incident, a fresh verified backup.

Every check fails closed: an Alertmanager or Kubernetes API that does not answer refuses the upgrade, since
"I could not tell" is no reason to change production. The backup check is the exception that proves the
rule: a verified backup that is too old, or whose age Prometheus cannot tell, is not refused but replaced
(the next step takes and verifies one itself), so an unknown age never passes as fresh.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks import connections
from novacron_runbooks.alerts import contract
from novacron_runbooks.backup.repository import backup_sets
from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
from novacron_runbooks.hooks.lease import LeaseLock
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.hooks.prometheus import PrometheusError, PrometheusHook, endpoint_from_connection
from novacron_runbooks.release.cluster import SERVICE

if TYPE_CHECKING:
    from collections.abc import Sequence

DEPLOY_LOCK = "novacron-api"
"""The lock every deployment runbook holds (deployment, canary, rollback, hotfix)."""
DATABASE_LOCK = "novacron-db"
"""The lock the backup, restore and database runbooks hold."""
INCIDENT_CATEGORIES = ("incident_response", "disaster_recovery")
ACTIVE_RUN_STATES = ["queued", "running"]
VERIFIED_QUERY = f"max({contract.BACKUP_LAST_VERIFIED})"


def require_locks_free(targets: Sequence[str] = (DEPLOY_LOCK, DATABASE_LOCK)) -> None:
    """Refuse while a deploy or database runbook holds its lock (an expired lease counts as free)."""
    evidence = current_evidence()
    lock = LeaseLock(coordination_api(), namespace())
    now = datetime.now(tz=UTC)
    for target in targets:
        state = lock.inspect(target)
        held = state is not None and not state.expired(now)
        evidence.measure(
            f"lock {target}", state.holder if state and held else "free", "fail" if held else "pass"
        )
        if held:
            assert state is not None
            raise AirflowFailException(
                f"preflight: lock {target!r} is held by {state.holder} (renewed "
                f"{state.renewed_at.isoformat()}): a deploy or database runbook is running; upgrade after it"
            )


def firing_alerts(service: str = SERVICE) -> list[dict[str, Any]]:
    """Active, unsilenced alerts of ``service`` in Alertmanager (API v2); an unreachable one raises."""
    import requests

    conn = BaseHook.get_connection(connections.ALERTMANAGER)
    endpoint = endpoint_from_connection(conn, conn.extra_dejson, None)
    query = {
        "active": "true",
        "silenced": "false",
        "inhibited": "false",
        "filter": f"service={json.dumps(service)}",
    }
    url = endpoint.url("/api/v2/alerts")
    try:
        response = requests.get(
            url, params=query, headers=endpoint.headers, auth=endpoint.auth, timeout=endpoint.timeout
        )
        response.raise_for_status()
        alerts = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise AirflowFailException(
            f"preflight: cannot read open alerts from Alertmanager at {url}: {exc}"
        ) from exc
    return [a for a in alerts if (a.get("status") or {}).get("state") == "active"]


def require_no_incident(ti: Any, service: str = SERVICE) -> None:
    """Refuse while an alert of the service fires or an incident or DR runbook is queued or running."""
    evidence = current_evidence()
    alerts = firing_alerts(service)
    names = sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in alerts})
    evidence.measure(f"firing alerts for {service}", names or "none", "fail" if names else "pass")
    if names:
        raise AirflowFailException(
            f"preflight: open incident: {', '.join(names)} firing for {service}; resolve it before upgrading"
        )
    running = {}
    for runbook in default_catalog():
        if runbook.category in INCIDENT_CATEGORIES:
            count = ti.get_dr_count(dag_id=runbook.dag_id, states=ACTIVE_RUN_STATES)
            if count:
                running[runbook.dag_id] = count
    evidence.measure(
        "incident runbook runs queued or running", running or "none", "fail" if running else "pass"
    )
    if running:
        raise AirflowFailException(
            f"preflight: open incident: {', '.join(sorted(running))} running; upgrade after it has ended"
        )


@dataclass(frozen=True)
class BackupFreshness:
    """The newest verified backup as Prometheus knows it, and whether it is within the objective."""

    label: str | None
    verified_stop: float | None
    age_seconds: float | None
    objective_seconds: float
    fresh: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _verified_stop() -> tuple[float | None, str]:
    """Finish time of the newest verified backup from the backup metrics; ``None`` says why not."""
    try:
        value = PrometheusHook().query(VERIFIED_QUERY).first_finite()
    except PrometheusError as exc:
        return None, f"Prometheus unreachable ({exc})"
    if value is None or not math.isfinite(value):
        return None, "no verified backup published"
    return value, ""


def backup_freshness(objective_seconds: float) -> BackupFreshness:
    """Read the newest verified backup's age and find it in the repository (it may have expired since)."""
    stop, why = _verified_stop()
    label = None
    age = None
    if stop is not None:
        age = round(time.time() - stop, 1)
        found = [s for s in backup_sets(PgBackRestHook().info()) if s.stopped_at == int(stop)]
        label = found[-1].label if found else None
        if label is None:
            why = f"the verified backup that finished at {int(stop)} is no longer in the repository"
        elif age > objective_seconds:
            why = f"{label} is {age:.0f} s old, over the {objective_seconds:.0f} s objective"
        else:
            why = f"{label} verified, {age:.0f} s old (objective {objective_seconds:.0f} s)"
    fresh = label is not None and age is not None and age <= objective_seconds
    result = BackupFreshness(label, stop, age, objective_seconds, fresh, why)
    current_evidence().measure(
        "newest verified backup", result.to_json(), "pass" if fresh else "inconclusive", query=VERIFIED_QUERY
    )
    return result
