"""auto_scaling: the repository's policy against the live autoscaler, step by step.

``check_policy`` runs in ``validate_params`` (a bad policy is refused naming its field before anything is
read from the cluster); ``diff_policy`` resolves the target and diffs; ``apply_policy`` and ``verify_policy``
change and check the live object. An empty diff skips the rest: applying the same policy twice changes
nothing. A dry run stops after the diff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.dagkit.notify import post_slack
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.release.cluster import ReleaseCluster
from novacron_runbooks.scaling import live
from novacron_runbooks.scaling.policy import PolicyError, load

if TYPE_CHECKING:
    from collections.abc import Mapping

RUNBOOK = catalog_runbook("auto_scaling")
VERIFY_TIMEOUT_SECONDS = 60.0


def check_policy(values: Mapping[str, Any]) -> None:
    """validate_params: load and validate the named policy; refuse it naming the policy's field."""
    try:
        load(str(values["policy"]))
    except PolicyError as exc:
        raise ParamError("policy", str(exc)) from exc


def diff_policy(params: dict[str, Any]) -> dict[str, Any]:
    """Diff the policy against the live autoscaler; record each difference as a change (not yet applied)."""
    evidence = current_evidence()
    policy = load(str(params["policy"]))
    cluster = ReleaseCluster()
    try:
        deployment = live.resolve_target(cluster, policy)
    except PolicyError as exc:
        raise AirflowFailException(str(exc)) from exc
    wanted = policy.hpa_spec(deployment)
    current = live.read_live(cluster, policy.name)
    rows = live.diff(None if current is None else current.get("spec"), wanted)
    if current is None:
        evidence.note(f"HorizontalPodAutoscaler {policy.name} does not exist: it will be created")
    for row in rows:
        evidence.change(f"HorizontalPodAutoscaler {policy.name}", live.describe(row), applied=False)
    if not rows:
        raise AirflowSkipException(f"HorizontalPodAutoscaler {policy.name} already matches the policy")
    summary = f"{len(rows)} field(s) differ from autoscaling/{policy.name}.yaml (target {deployment})"
    evidence.note(summary)
    lines = "\n".join(f"• {live.describe(row)}" for row in rows[:20])
    post_slack(get_current_context(), RUNBOOK.owner.slack_channel, f"{summary}:\n{lines}")
    return {"name": policy.name, "spec": wanted, "diff": rows}


def apply_policy(plan: dict[str, Any], dry_run: bool) -> None:
    """Write the policy's spec to the live autoscaler (a dry run stops at the diff)."""
    if dry_run:
        raise AirflowSkipException("dry run: the diff is the plan; nothing applied")
    how = live.apply(ReleaseCluster(), plan["name"], plan["spec"])
    evidence = current_evidence()
    for row in plan["diff"]:
        evidence.change(f"HorizontalPodAutoscaler {plan['name']}", live.describe(row), applied=True)
    evidence.note(f"HorizontalPodAutoscaler {plan['name']} {how}")


def verify_policy(plan: dict[str, Any]) -> None:
    """Require the autoscaler to read back the policy and its controller to be able to scale and measure."""
    try:
        status = live.verify(ReleaseCluster(), plan["name"], plan["spec"], VERIFY_TIMEOUT_SECONDS)
    except RuntimeError as exc:
        current_evidence().measure("policy_live", str(exc), "failure")
        raise AirflowFailException(str(exc)) from exc
    current_evidence().measure(
        "policy_live",
        f"{status.get('currentReplicas')} replicas, desired {status.get('desiredReplicas')}",
        "success",
    )
