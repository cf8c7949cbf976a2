"""A repository policy against the live HorizontalPodAutoscaler: resolve its target, diff, apply, verify.

The diff compares only what a policy decides (target, bounds, metrics, behaviour), field by field, so a
status update or an annotation never shows up as drift. Applying replaces the spec under the object's
``resourceVersion``: a concurrent writer (a release switching colours) makes it fail with a conflict rather
than be silently overwritten, and the retry diffs again.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from novacron_runbooks.release.cluster import COLOURS, ReleaseCluster, colour_deployment
from novacron_runbooks.scaling.policy import ACTIVE_COLOUR, PolicyError

if TYPE_CHECKING:
    from novacron_runbooks.scaling.policy import Policy

POLICY_FIELDS = ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior")
COLOUR_DEPLOYMENTS = tuple(colour_deployment(c) for c in COLOURS)


def resolve_target(cluster: ReleaseCluster, policy: Policy) -> str:
    """Return the Deployment the policy scales; an idle colour is refused (the autoscaler follows traffic)."""
    active = colour_deployment(cluster.active_colour())
    if policy.target == ACTIVE_COLOUR:
        return active
    if policy.target in COLOUR_DEPLOYMENTS and policy.target != active:
        raise PolicyError(
            f"autoscaling/{policy.name}.yaml",
            "target",
            f"{policy.target} is the idle colour (the Service selects {active}); use {ACTIVE_COLOUR}, "
            "which the release runbooks keep the autoscaler on",
        )
    if cluster.workload(policy.target) is None:
        raise PolicyError(
            f"autoscaling/{policy.name}.yaml", "target", f"Deployment {policy.target} does not exist"
        )
    return policy.target


def read_live(cluster: ReleaseCluster, name: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    try:
        obj = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(name, cluster.namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    plain: dict[str, Any] = cluster.api_client.sanitize_for_serialization(obj)
    return plain


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else key, out)
    else:
        out[path] = value


def diff(live_spec: dict[str, Any] | None, wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields where the live spec differs from ``wanted``, as ``{"field", "live", "wanted"}`` rows."""
    have: dict[str, Any] = {}
    want: dict[str, Any] = {}
    _flatten({k: (live_spec or {}).get(k) for k in POLICY_FIELDS}, "", have)
    _flatten({k: wanted.get(k) for k in POLICY_FIELDS}, "", want)
    rows = []
    for field in sorted(set(have) | set(want)):
        if have.get(field) != want.get(field):
            rows.append({"field": field, "live": have.get(field), "wanted": want.get(field)})
    return rows


def describe(row: dict[str, Any]) -> str:
    return f"{row['field']}: {json.dumps(row['live'])} → {json.dumps(row['wanted'])}"


def apply(cluster: ReleaseCluster, name: str, wanted: dict[str, Any]) -> str:
    """Create the autoscaler, or replace its spec under the read ``resourceVersion``; return which."""
    live = read_live(cluster, name)
    if live is None:
        body = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": wanted,
        }
        cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler(cluster.namespace, body)
        return "created"
    body = {key: live[key] for key in ("apiVersion", "kind", "metadata")}
    body["spec"] = wanted
    cluster.autoscaling.replace_namespaced_horizontal_pod_autoscaler(name, cluster.namespace, body)
    return "replaced"


def verify(cluster: ReleaseCluster, name: str, wanted: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Wait until the autoscaler reads back ``wanted`` and its controller reports it can scale and measure.

    Raises ``RuntimeError`` naming what still differs or which condition is not true at the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        live = read_live(cluster, name)
        problems = _problems(live, wanted)
        if not problems:
            assert live is not None
            return dict(live.get("status") or {})
        if time.monotonic() >= deadline:
            raise RuntimeError(f"HorizontalPodAutoscaler {name} after {timeout:.0f} s: {'; '.join(problems)}")
        time.sleep(1)


def _problems(live: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    if live is None:
        return ["it does not exist"]
    problems = [f"still differs: {describe(row)}" for row in diff(live.get("spec"), wanted)]
    meta, status = live.get("metadata") or {}, live.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        problems.append("its controller has not observed the new spec yet")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    for wanted_true in ("AbleToScale", "ScalingActive"):
        cond = conditions.get(wanted_true) or {}
        if cond.get("status") != "True":
            problems.append(f"{wanted_true} is {cond.get('status', 'absent')} ({cond.get('message', '')})")
    return problems
