"""The security patch on the sandbox cluster: exactly the affected workloads change, the others stay.

The cluster is staged with workloads that run the affected image two ways (a tag whose pulled digest is the
advisory's, an init container by tag) beside ones that do not (the same repository at a newer tag, the API);
the test puts the cluster back afterwards.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from dag_runner import respond_when_asked, run_dag, task_states
from release_state import SEED_IMAGE, history, load_dag, read_state, reset_release_state

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.hooks.kubernetes import cluster_hook
from novacron_runbooks.patching.inventory import ClusterInventory, template_hash
from novacron_runbooks.release.cluster import ReleaseCluster

AGENT = "registry.novacron.io/novacron/dwcp-agent"
SEED_AGENT = f"{AGENT}:2.1.0"
PATCHED_AGENT = f"{AGENT}:2.1.1"
SEED_DIGEST = "sha256:" + hashlib.sha256(SEED_AGENT.encode()).hexdigest()
"""What the sandbox's kubelet reports as the digest ``2.1.0`` pulled (``imageID``)."""
OTHER = "registry.novacron.io/platform/migrator:1.0"
STAGED = {
    # an init container on an affected tag; its main container is another image and must stay
    "dwcp-migrator": {"containers": [("main", OTHER)], "init": [("seed", f"{AGENT}:2.0.9")]},
    # the same repository at a release the CVE does not affect
    "dwcp-agent-next": {"containers": [("agent", f"{AGENT}:2.2.0")], "init": []},
}
CONF = {
    "cve_id": "CVE-2026-31337",
    "severity": "critical",
    "gate_seconds": 10,
    "rollout_timeout_seconds": 60,
    "dry_run": False,
}


def _deployment(name: str, spec: dict) -> dict:
    pod_spec: dict = {"containers": [{"name": n, "image": i} for n, i in spec["containers"]]}
    if spec["init"]:
        pod_spec["initContainers"] = [{"name": n, "image": i} for n, i in spec["init"]]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def _put_agents_back(cluster: ReleaseCluster) -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": SEED_AGENT}]}}}}
    cluster.apps.patch_namespaced_deployment("dwcp-agent", cluster.namespace, body)
    for name in STAGED:
        cluster.delete(name)
    cluster.wait_rolled_out("dwcp-agent", 60)


@pytest.fixture
def staged(sandbox):
    cluster_hook.cache_clear()
    reset_release_state(healthy=False)
    cluster = ReleaseCluster()
    _put_agents_back(cluster)
    for name, spec in STAGED.items():
        cluster.apps.create_namespaced_deployment(cluster.namespace, _deployment(name, spec))
    for name in [*STAGED, "dwcp-agent"]:
        cluster.wait_rolled_out(name, 60)
    try:
        yield cluster
    finally:
        _put_agents_back(cluster)
        reset_release_state(healthy=False)


def fingerprints() -> dict[str, tuple[str, int]]:
    """Every Deployment's pod template and generation: what a patch would move."""
    inventory = ClusterInventory()
    return {
        obj["metadata"]["name"]: (template_hash(obj), obj["metadata"]["generation"])
        for _, obj in inventory.workloads()
    }


def images(name: str) -> dict[str, str]:
    obj = ClusterInventory().read("Deployment", name)
    spec = obj["spec"]["template"]["spec"]
    return {c["name"]: c["image"] for c in spec["containers"] + (spec.get("initContainers") or [])}


def pod_images(name: str) -> list[dict[str, str]]:
    pods = ClusterInventory().pods_of("Deployment", name)
    return [
        {c["name"]: c["image"] for c in p["spec"]["containers"] + (p["spec"].get("initContainers") or [])}
        for p in pods
    ]


def patch(conf: dict, answer: str | None = None):
    answered = respond_when_asked("security_patch", "approve", answer, user="security-lead") if answer else {}
    run = run_dag(load_dag("security_patch"), {**CONF, **conf})
    if answer:
        assert answered.get("run_id") == run.run_id, answered
    return run


@pytest.mark.sandbox
def test_security_patch_finds_exactly_the_affected_workloads_and_leaves_the_others_untouched(staged):
    conf = {"patched_image": PATCHED_AGENT, "affected_images": [f"{AGENT}@{SEED_DIGEST}", f"{AGENT}:2.0.9"]}
    before = fingerprints()

    dry = patch({**conf, "dry_run": True})
    assert dry.state == "success", task_states(dry)
    assert fingerprints() == before
    plan = json.loads(read_report("security_patch", dry.run_id, "json"))
    step = next(s for s in plan["steps"] if s["task_id"] == "find_affected")
    found = step["evidence"]["measurements"][0]
    assert sorted(found["value"]) == ["Deployment/dwcp-agent", "Deployment/dwcp-migrator"]

    run = patch(conf, "Approve")
    states = task_states(run)
    assert run.state == "success", states
    after = fingerprints()
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {"dwcp-agent", "dwcp-migrator"}  # by the digest its pods pulled; by an init container
    assert images("dwcp-agent") == {"agent": PATCHED_AGENT}
    assert images("dwcp-migrator") == {"main": OTHER, "seed": PATCHED_AGENT}
    assert pod_images("dwcp-agent") == [{"agent": PATCHED_AGENT}] * 3
    assert pod_images("dwcp-migrator") == [{"main": OTHER, "seed": PATCHED_AGENT}]
    assert images("dwcp-agent-next") == {"agent": f"{AGENT}:2.2.0"}
    assert read_state().images == {"blue": SEED_IMAGE, "green": SEED_IMAGE}
    report = read_report("security_patch", run.run_id, "markdown")
    assert "security-lead" in report
    assert f"patched CVE-2026-31337: Deployment/dwcp-agent: agent {SEED_AGENT} → {PATCHED_AGENT}" in report

    again = patch(conf)  # nothing affected is left: no approval asked, nothing changed
    assert again.state == "success"
    assert task_states(again)["find_affected"] == "skipped"
    assert fingerprints() == after


@pytest.mark.sandbox
def test_the_live_api_colour_is_patched_the_hotfix_way(staged):
    before = fingerprints()
    conf = {"patched_image": "registry.novacron.io/novacron/api:1.4.3", "affected_images": [SEED_IMAGE]}
    run = patch(conf, "Approve")
    assert run.state == "success", task_states(run)
    state = read_state()
    assert (state.active, state.active_image, state.ready["blue"]) == ("blue", conf["patched_image"], 3)
    assert state.images["green"] == conf["patched_image"]  # idle, no pods: a later scale-up stays patched
    last = history()[-1]
    assert (last.image, last.result, last.runbook) == (conf["patched_image"], "promoted", "security_patch")
    after = fingerprints()
    assert {name for name in before if after[name] != before[name]} == {
        "novacron-api-blue",
        "novacron-api-green",
    }
