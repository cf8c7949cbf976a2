"""The application-loss runbook against a sandbox cluster: recreated from the kept manifests or left alone."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests
from dag_runner import run_dag, task_states
from release_state import (
    GOOD_IMAGE,
    SEED_IMAGE,
    history,
    load_dag,
    read_state,
    reset_release_state,
    resource_versions,
)

from novacron_runbooks import connections
from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.hooks.kubernetes import cluster_hook
from novacron_runbooks.release.cluster import SERVICE, ReleaseCluster
from novacron_runbooks.release.history import ReleaseHistory

pytestmark = pytest.mark.sandbox


def recover(**conf):
    conf = {"dry_run": False, "reason": "INC-9 application lost", **conf}
    dag = load_dag("dr_service_failure")
    # dag.test() on 3.3.2 cannot evaluate the deadline alerts of a DAG it serialises itself (update_state
    # looks the alert dicts up as ids); escalation timers run under a live scheduler in test_escalation_e2e
    dag.deadline = None
    return run_dag(dag, conf)


def report_json(run) -> dict:
    return json.loads(read_report("dr_service_failure", run.run_id, "json"))


def api_health() -> requests.Response:
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(connections.NOVACRON_API)
    return requests.get(f"http://{conn.host}:{conn.port}/api/v1/health", timeout=5)


def wait_for(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.5)


def snapshot(cluster: ReleaseCluster) -> dict[str, str]:
    """The namespace's application objects by spec generation (Deployments) or resourceVersion."""
    ns = cluster.namespace
    found = {}
    for item in cluster.apps.list_namespaced_deployment(ns).items:
        found[f"Deployment/{item.metadata.name}"] = str(item.metadata.generation)
    for kind, items in (
        ("Service", cluster.core.list_namespaced_service(ns).items),
        ("ConfigMap", cluster.core.list_namespaced_config_map(ns).items),
        ("HPA", cluster.autoscaling.list_namespaced_horizontal_pod_autoscaler(ns).items),
    ):
        for item in items:
            found[f"{kind}/{item.metadata.name}"] = str(item.metadata.resource_version)
    return found


@pytest.fixture
def lost_sandbox(isolated_sandbox):
    """A throw-away cluster whose history says 1.5.0 on green was the last good release."""
    cluster_hook.cache_clear()  # the hook of the session's sandbox is cached per process
    yield isolated_sandbox
    cluster_hook.cache_clear()


def test_lost_application_is_recreated_with_the_last_good_release(lost_sandbox):
    cluster = ReleaseCluster()
    releases = ReleaseHistory(cluster)
    seed = releases.append(image=SEED_IMAGE, colour="blue", runbook="adopted", run="", result="adopted")
    releases.append(image=GOOD_IMAGE, colour="green", runbook="deployment", run="ci/2", result="promoted")
    for name in ("novacron-api-blue", "novacron-api-green"):
        cluster.delete(name)
    cluster.core.delete_namespaced_service(SERVICE, cluster.namespace)
    cluster.autoscaling.delete_namespaced_horizontal_pod_autoscaler(SERVICE, cluster.namespace)
    lost_at = datetime.now(tz=UTC)
    wait_for(lambda: api_health().status_code == 503)

    alert = {"alertname": "NovacronApiDown", "severity": "critical", "starts_at": lost_at.isoformat()}
    before = snapshot(cluster)
    planned = recover(alert=alert, dry_run=True)
    assert planned.state == "success", task_states(planned)
    assert snapshot(cluster) == before, "a dry run changed the cluster"
    changes = [c for s in report_json(planned)["steps"] for c in (s["evidence"] or {}).get("changes", [])]
    assert not any(c["applied"] for c in changes)
    targets = {c["target"] for c in changes}
    assert {"Deployment novacron-api-green", "HorizontalPodAutoscaler novacron-api"} <= targets
    assert "Service novacron-api" in targets

    run = recover(alert=alert)

    states = task_states(run)
    assert run.state == "success", states
    state = read_state()
    assert state.active == "green", "the history's live release ran on green"
    assert state.images == {"green": GOOD_IMAGE, "blue": GOOD_IMAGE}
    assert (state.ready["green"], state.replicas["blue"]) == (3, 0)
    assert cluster.autoscaler_target() == "novacron-api-green"
    served = api_health()
    assert served.status_code == 200
    assert served.headers["X-Novacron-Version"] == "1.5.0"
    records = history()
    assert records[0].revision == seed.revision
    assert (records[-1].image, records[-1].result, records[-1].colour) == (GOOD_IMAGE, "restored", "green")

    report = report_json(run)
    targets = {t["name"]: t for t in report["targets"]}
    since_loss = (datetime.now(tz=UTC) - lost_at).total_seconds()
    assert targets["rto_seconds"]["target_seconds"] == 900
    assert 0 < targets["rto_seconds"]["measured_seconds"] <= since_loss
    assert targets["rpo_seconds"]["measured_seconds"] == 0
    rto_note = next(s for s in report["steps"] if s["task_id"] == "record_recovery")["evidence"]["notes"]
    assert "alert NovacronApiDown started" in rto_note[0]
    print(f"\nRTO {targets['rto_seconds']['measured_seconds']:.1f} s (alert to verified)")


def test_healthy_application_is_verified_and_left_alone(sandbox):
    reset_release_state(healthy=False)
    before = resource_versions()
    run = recover()
    states = task_states(run)
    assert run.state == "success", states
    assert states["gate_serving"] == "success"
    assert resource_versions() == before
    report = report_json(run)
    assess = next(s for s in report["steps"] if s["task_id"] == "assess")["evidence"]["notes"]
    assert "verify only" in assess[-1]
    assert not any(c["applied"] for s in report["steps"] for c in (s["evidence"] or {}).get("changes", []))
    assert read_state().active_image == SEED_IMAGE
