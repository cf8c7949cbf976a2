"""auto_scaling: the repository's policy diffed against the live autoscaler, dry run, applied, verified."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from dag_runner import run_dag, task_states
from release_state import load_dag

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.paths import include_dir
from novacron_runbooks.release.cluster import ReleaseCluster
from novacron_runbooks.scaling.live import read_live
from novacron_runbooks.scaling.policy import load

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.sandbox
HPA = "novacron-api"


@pytest.fixture
def live_hpa(sandbox) -> Iterator[ReleaseCluster]:
    """The live autoscaler as seeded; put back after the test (other tests expect the seed's spec)."""
    cluster = ReleaseCluster()
    saved = read_live(cluster, HPA)
    assert saved is not None
    yield cluster
    current = read_live(cluster, HPA)
    assert current is not None
    body = {key: current[key] for key in ("apiVersion", "kind", "metadata")}
    body["spec"] = saved["spec"]
    cluster.autoscaling.replace_namespaced_horizontal_pod_autoscaler(HPA, cluster.namespace, body)


def evidence(run: Any, task_id: str) -> dict[str, Any]:
    report = json.loads(read_report("auto_scaling", run.run_id, "json"))
    return next(s for s in report["steps"] if s["task_id"] == task_id)["evidence"]


def test_the_policy_is_diffed_shown_in_a_dry_run_applied_verified_and_then_left_alone(live_hpa):
    seeded = read_live(live_hpa, HPA)["spec"]
    wanted = load(HPA).hpa_spec("novacron-api-blue")

    dry = run_dag(load_dag("auto_scaling"), {"dry_run": True, "reason": "CHG-31"})
    states = task_states(dry)
    assert dry.state == "success", states
    assert states["apply_policy"] == "skipped" and states["verify_policy"] == "skipped", states
    assert read_live(live_hpa, HPA)["spec"] == seeded  # the dry run showed the diff only
    shown = [c for c in evidence(dry, "diff_policy")["changes"]]
    assert shown and not any(c["applied"] for c in shown)
    assert "behavior.scaleDown.stabilizationWindowSeconds: null → 300" in [c["action"] for c in shown]

    applied = run_dag(load_dag("auto_scaling"), {"dry_run": False, "reason": "CHG-31"})
    assert applied.state == "success", task_states(applied)
    live = read_live(live_hpa, HPA)
    assert {k: live["spec"].get(k) for k in wanted} == wanted
    assert evidence(applied, "verify_policy")["measurements"][0]["verdict"] == "success"

    again = run_dag(load_dag("auto_scaling"), {"dry_run": False})
    states = task_states(again)
    assert again.state == "success" and states["diff_policy"] == "skipped", states
    assert states["apply_policy"] == "skipped"


def test_a_policy_with_min_above_max_is_refused_naming_the_field(live_hpa, tmp_path, monkeypatch):
    include = tmp_path / "include"
    include.mkdir()
    for entry in include_dir().iterdir():
        if entry.name != "autoscaling":
            (include / entry.name).symlink_to(entry)
    policy = yaml.safe_load((include_dir() / "autoscaling" / f"{HPA}.yaml").read_text())
    policy.update(name="novacron-api-tight", min_replicas=8, max_replicas=5)
    (include / "autoscaling").mkdir()
    (include / "autoscaling" / "novacron-api-tight.yaml").write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("NOVACRON_INCLUDE_DIR", str(include))
    before = read_live(live_hpa, HPA)["spec"]

    run = run_dag(load_dag("auto_scaling"), {"dry_run": False, "policy": "novacron-api-tight"})
    states = task_states(run)
    assert states["validate_params"] == "failed" and states["apply_policy"] == "upstream_failed", states
    error = evidence(run, "validate_params")["error"]
    assert "autoscaling/novacron-api-tight.yaml: min_replicas: 8 is above max_replicas 5" in error
    assert read_live(live_hpa, HPA)["spec"] == before
