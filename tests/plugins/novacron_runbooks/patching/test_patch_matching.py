"""Which workloads a CVE affects: tags and digests, init containers, running digests, the plan's paths."""

from __future__ import annotations

import hashlib

import pytest

from novacron_runbooks.patching.images import AffectedImages, parse_image
from novacron_runbooks.patching.inventory import scan
from novacron_runbooks.patching.plan import build_plan, patched_workloads, summary
from novacron_runbooks.patching.rollout import patch_body, stuck_pods
from novacron_runbooks.patching.verify import pod_problems

REPO = "registry.novacron.io/novacron/dwcp-agent"
DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64
AFFECTED = AffectedImages.from_refs([f"{REPO}:2.1.0", f"{REPO}@{DIGEST}"])
PATCHED = f"{REPO}:2.1.1"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.novacron.io/novacron/api:1.4.2", ("registry.novacron.io/novacron/api", "1.4.2", None)),
        ("registry:5000/team/app", ("registry:5000/team/app", None, None)),
        ("registry:5000/team/app:v2", ("registry:5000/team/app", "v2", None)),
        (f"reg.io/app@{DIGEST}", ("reg.io/app", None, DIGEST)),
        (f"reg.io/app:1.0@{DIGEST}", ("reg.io/app", "1.0", DIGEST)),
        ("nginx:1.25", ("docker.io/library/nginx", "1.25", None)),
        ("bitnami/redis", ("docker.io/bitnami/redis", None, None)),
        (f"docker-pullable://reg.io/app@{DIGEST.upper()}", ("reg.io/app", None, DIGEST)),
    ],
)
def test_image_references_are_split_as_the_runtime_reads_them(image, expected):
    ref = parse_image(image)
    assert (ref.repository, ref.tag, ref.digest) == expected


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (f"{REPO}:2.1.0", "tag 2.1.0"),
        (f"{REPO}:2.1.1", None),  # the patched release
        (f"{REPO}:2.1.0-rc1", None),  # a tag is exact, not a prefix
        ("registry.novacron.io/novacron/api:2.1.0", None),  # the same tag of another image
        (f"{REPO}@{DIGEST}", f"digest {DIGEST}"),
        (f"mirror.example/dwcp-agent@{DIGEST}", f"digest {DIGEST}"),  # a digest names content wherever it is
        (f"{REPO}@{OTHER_DIGEST}", None),
        (f"{REPO}:2.1.0@{OTHER_DIGEST}", "tag 2.1.0"),  # pinned, but the advisory names its tag
        (REPO, None),  # latest is not listed
    ],
)
def test_a_container_image_matches_by_tag_in_the_repository_or_by_digest(image, why):
    assert AFFECTED.spec_match(image) == why


def test_a_running_digest_matches_even_when_the_spec_names_an_unlisted_tag():
    assert AFFECTED.running_match(f"{REPO}@{DIGEST}") == f"running digest {DIGEST}"
    assert AFFECTED.running_match(f"{REPO}@{OTHER_DIGEST}") is None
    assert AFFECTED.running_match("") is None


def deployment(name, containers, init=(), replicas=1, kind="Deployment"):
    template = {"spec": {"containers": [{"name": n, "image": i} for n, i in containers]}}
    if init:
        template["spec"]["initContainers"] = [{"name": n, "image": i} for n, i in init]
    obj = {"metadata": {"name": name, "generation": 3}, "spec": {"replicas": replicas, "template": template}}
    return kind, obj


def pod(name, owner_kind, owner, containers, image_ids=None, ready=True):
    statuses = [{"name": n, "image": i, "imageID": (image_ids or {}).get(n, "")} for n, i in containers]
    return {
        "metadata": {"name": name, "ownerReferences": [{"kind": owner_kind, "name": owner}]},
        "spec": {"containers": [{"name": n, "image": i} for n, i in containers]},
        "status": {
            "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def rs(name, deployment_name):
    return {"metadata": {"name": name, "ownerReferences": [{"kind": "Deployment", "name": deployment_name}]}}


def cluster():
    """Seven workloads: four affected four ways, one of a kind not rolled here, two not affected."""
    api = "registry.novacron.io/novacron/api:1.4.2"
    workloads = [
        deployment("novacron-api-blue", [("api", api)], replicas=3),
        deployment("dwcp-agent", [("agent", f"{REPO}:2.1.0")], replicas=3),  # by tag
        deployment(
            "migrator", [("main", "reg.io/tools:1")], init=[("seed", f"{REPO}@{DIGEST}")]
        ),  # init, digest
        deployment("dwcp-agent-latest", [("agent", f"{REPO}:latest-stable")]),  # runs DIGEST under a tag
        deployment("dwcp-agent-next", [("agent", f"{REPO}:2.2.0")]),  # same repository, not affected
        deployment("dwcp-probe", [("agent", f"{REPO}:2.1.0")], kind="StatefulSet"),
    ]
    pods = [
        pod(
            "api-1", "ReplicaSet", "novacron-api-blue-abc", [("api", api)], {"api": f"reg/api@{OTHER_DIGEST}"}
        ),
        pod(
            "latest-1",
            "ReplicaSet",
            "dwcp-agent-latest-x",
            [("agent", f"{REPO}:latest-stable")],
            {"agent": f"{REPO}@{DIGEST}"},
        ),
        pod(
            "next-1",
            "ReplicaSet",
            "dwcp-agent-next-y",
            [("agent", f"{REPO}:2.2.0")],
            {"agent": f"{REPO}@{OTHER_DIGEST}"},
        ),
        pod("debug", "Node", "node-a", [("shell", f"{REPO}:2.1.0")]),  # owned by nothing the runbook rolls
    ]
    sets = [
        rs("novacron-api-blue-abc", "novacron-api-blue"),
        rs("dwcp-agent-latest-x", "dwcp-agent-latest"),
        rs("dwcp-agent-next-y", "dwcp-agent-next"),
    ]
    return workloads, pods, sets


def test_the_scan_finds_exactly_the_affected_workloads_and_fingerprints_the_others():
    found = scan(*cluster(), AFFECTED)
    whys = {f.key: [(c.name, c.init, c.why) for c in f.containers] for f in found.affected}
    assert whys == {
        "Deployment/dwcp-agent": [("agent", False, "tag 2.1.0")],
        "Deployment/migrator": [("seed", True, f"digest {DIGEST}")],
        "Deployment/dwcp-agent-latest": [("agent", False, f"running digest {DIGEST}")],
        "StatefulSet/dwcp-probe": [("agent", False, "tag 2.1.0")],
    }
    assert {f.key: f.pods for f in found.affected}["Deployment/dwcp-agent-latest"] == ["latest-1"]
    assert set(found.untouched) == {"Deployment/novacron-api-blue", "Deployment/dwcp-agent-next"}
    assert found.unowned_pods == ["debug (shell: tag 2.1.0)"]


def test_the_plan_sends_the_live_colour_by_the_hotfix_path_and_lists_what_it_cannot_patch():
    api = AffectedImages.from_refs(["registry.novacron.io/novacron/api:1.4.2"])
    workloads, pods, sets = cluster()
    workloads.append(
        deployment("novacron-api-green", [("api", "registry.novacron.io/novacron/api:1.4.2")], replicas=0)
    )
    params = {
        "cve_id": "CVE-2026-1234",
        "severity": "high",
        "patched_image": "registry.novacron.io/novacron/api:1.4.3",
    }
    plan = build_plan(
        scan(workloads, pods, sets, api), "blue", "registry.novacron.io/novacron/api:1.4.2", params
    )
    assert plan["application"]["name"] == "novacron-api-blue"
    assert [w["name"] for w in plan["workloads"]] == ["novacron-api-green"]
    assert plan["version"] == "1.4.3"  # the gate judges the patched release's own requests
    assert [w["name"] for w in patched_workloads(plan)] == ["novacron-api-blue", "novacron-api-green"]

    agents = build_plan(
        scan(*cluster(), AFFECTED),
        "blue",
        "registry.novacron.io/novacron/api:1.4.2",
        {**params, "patched_image": PATCHED},
    )
    assert agents["application"] is None
    assert agents["version"] == "1.4.2"  # nothing of the API changes: the live release's requests
    assert [u["name"] for u in agents["unpatchable"]] == ["dwcp-probe"]
    assert "NOT PATCHED (patch by hand): StatefulSet/dwcp-probe" in summary(agents)
    assert "NOT PATCHED (no workload owns it): pod debug" in summary(agents)


def test_the_patch_changes_only_the_affected_containers():
    body = patch_body({("agent", False): PATCHED, ("seed", True): PATCHED}, "CVE-2026-1234", None)
    spec = body["spec"]["template"]["spec"]
    assert spec == {
        "containers": [{"name": "agent", "image": PATCHED}],
        "initContainers": [{"name": "seed", "image": PATCHED}],
    }
    assert "novacron.io/release-revision" not in body["metadata"]["annotations"]


def test_every_pod_must_run_the_patched_image_be_ready_and_be_counted():
    change = {
        "kind": "Deployment",
        "name": "dwcp-agent",
        "replicas": 2,
        "containers": [{"name": "agent", "init": False, "old_image": f"{REPO}:2.1.0", "why": "tag 2.1.0"}],
    }
    good = pod("a-1", "ReplicaSet", "x", [("agent", PATCHED)], {"agent": f"{REPO}@{OTHER_DIGEST}"})
    assert pod_problems(change, [good, good], PATCHED, AFFECTED) == []
    old = pod("a-2", "ReplicaSet", "x", [("agent", f"{REPO}:2.1.0")])
    stale = pod("a-3", "ReplicaSet", "x", [("agent", PATCHED)], {"agent": f"{REPO}@{DIGEST}"})
    slow = pod("a-4", "ReplicaSet", "x", [("agent", PATCHED)], ready=False)
    problems = pod_problems(change, [good, old, stale, slow], PATCHED, AFFECTED)
    assert any("a-2: container agent runs" in p for p in problems)
    assert f"pod a-3: container agent still running digest {DIGEST}" in problems
    assert "pod a-4 is not ready" in problems
    assert "Deployment/dwcp-agent: 4 pods, 2 wanted" in problems


def test_the_sandbox_kubelet_reports_the_digest_a_tag_pulled():
    """The DAG test finds the agents by digest alone: the emulator's imageID is sha256 of the reference."""
    image = f"{REPO}:2.1.0"
    digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
    from sandbox.k8s.controllers.kubelet import Kubelet

    status = Kubelet.__new__(Kubelet)._running(
        {
            "metadata": {"uid": "u"},
            "spec": {"nodeName": "n", "containers": [{"name": "agent", "image": image}]},
        },
        True,
    )
    assert AffectedImages.from_refs([f"{REPO}@{digest}"]).running_match(
        status["containerStatuses"][0]["imageID"]
    )


def test_a_rollout_whose_new_pods_cannot_start_is_stuck_while_old_pods_say_nothing():
    new = pod("a-5", "ReplicaSet", "x", [("agent", PATCHED)])
    new["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    old = pod("a-6", "ReplicaSet", "x", [("agent", f"{REPO}:2.1.0")])
    old["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert stuck_pods([new, old], {PATCHED}) == ["a-5: container agent ImagePullBackOff"]
    assert stuck_pods([old], {PATCHED}) == []
