"""The service-down diagnosis and its remediation policy (RUNBOOKS.md item 7), read once, chosen purely.

1. the Service or every API Deployment gone → dr_service_failure (the whole service is lost);
2. a release of the last hour is live and its pods are stuck (CrashLoopBackOff, ImagePullBackOff) or none is
   ready → rollback;
3. pods stuck or none ready without a recent release → a rollout restart of the live colour;
4. pods ready yet the API does not answer → no automatic remedy: people take over.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from novacron_runbooks import connections
from novacron_runbooks.diagnostics import pods
from novacron_runbooks.release.cluster import SERVICE, ReleaseError, colour_deployment

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.release.cluster import ReleaseCluster
    from novacron_runbooks.release.history import ReleaseHistory

HEALTH_PATH = "/api/v1/health"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def probe(tries: int = 3, pause: float = 1.0) -> list[str]:
    """Ask the API's health endpoint ``tries`` times; return what each answer was (status or error)."""
    import requests
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=connections.NOVACRON_API)
    session = hook.get_conn()
    base = hook.base_url.rstrip("/")
    answers = []
    for attempt in range(tries):
        try:
            answers.append(str(session.get(f"{base}{HEALTH_PATH}", timeout=5).status_code))
        except requests.RequestException as exc:
            answers.append(type(exc).__name__)
        if attempt < tries - 1:
            time.sleep(pause)
    return answers


@dataclass
class Outage:
    """What is left of the API: its Service, Deployments, pods, and the releases of the last hour."""

    service_colour: str | None
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: list[dict[str, Any]] = field(default_factory=list)
    recent_releases: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Outage:
        return cls(**raw)


def read(cluster: ReleaseCluster, history: ReleaseHistory, runbook: Runbook) -> Outage:
    from kubernetes.client.exceptions import ApiException

    try:
        colour: str | None = cluster.active_colour()
    except (ApiException, ReleaseError):  # a missing or odd Service is a finding, not the runbook's error
        colour = None
    deployments = {}
    for name in (colour_deployment("blue"), colour_deployment("green")):
        found = cluster.workload(name)
        if found is not None:
            deployments[name] = {"image": found.image, "replicas": found.replicas, "ready": found.ready}
    recent = [
        {"revision": r.revision, "image": r.image, "colour": r.colour, "result": r.result}
        for r in history.started_since(runbook.threshold("recent_deployment_window").value)
        if r.runbook != "adopted"
    ]
    health = [p.to_dict() for p in pods.pods_of(cluster, f"app={SERVICE}")]
    return Outage(colour, deployments, health, recent)


def choose(found: Outage) -> tuple[str | None, str]:
    """Return the remedy (a runbook, ``restart`` or ``None``) and why, by the policy in the module doc."""
    if found.service_colour is None or not found.deployments:
        return "dr_service_failure", "the API's Service or Deployments are gone"
    live = found.deployments.get(colour_deployment(found.service_colour))
    if live is None:
        return "dr_service_failure", f"the Service selects {found.service_colour}, whose Deployment is gone"
    stuck = [p for p in found.pods if p["waiting"]]
    not_serving = live["ready"] == 0 or bool(stuck)
    live_release = next((r for r in reversed(found.recent_releases) if r["image"] == live["image"]), None)
    if not_serving and live_release is not None:
        why = ", ".join(w for p in stuck for w in p["waiting"]) or "no ready pod"
        return "rollback", f"release r{live_release['revision']} ({live['image']}) went live recently: {why}"
    if not_serving:
        return (
            "restart",
            f"{live['ready']} ready pod(s), stuck: {[p['name'] for p in stuck]}; no recent release",
        )
    return None, f"{live['ready']} pod(s) ready, yet the API does not answer"


def restart(cluster: ReleaseCluster, deployment: str, timeout: float) -> None:
    """Restart ``deployment``'s pods as ``kubectl rollout restart`` does, and wait until rolled out."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    template = {"metadata": {"annotations": {RESTARTED_AT: now}}}
    cluster.apps.patch_namespaced_deployment(deployment, cluster.namespace, {"spec": {"template": template}})
    cluster.wait_rolled_out(deployment, timeout)
