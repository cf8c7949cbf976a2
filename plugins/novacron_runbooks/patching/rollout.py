"""Roll affected Deployments to the patched image, wait for them, and put the old images back on failure.

Only the affected containers change (a strategic-merge patch keyed by container name keeps every other
container, env and volume); each call is idempotent and honours ``dry_run`` like the release actions.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.patching.inventory import ClusterInventory
from novacron_runbooks.patching.plan import describe_containers
from novacron_runbooks.release.cluster import (
    CHANGE_CAUSE,
    REVISION_ANNOTATION,
    STUCK_REASONS,
    ReleaseCluster,
    RolloutFailed,
    Workload,
)


def _current_images(obj: dict[str, Any]) -> dict[tuple[str, bool], str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = {(c["name"], False): str(c.get("image", "")) for c in spec.get("containers") or []}
    images.update({(c["name"], True): str(c.get("image", "")) for c in spec.get("initContainers") or []})
    return images


def patch_body(images: dict[tuple[str, bool], str], cause: str, revision: int | None) -> dict[str, Any]:
    """Build the strategic-merge patch that sets ``images`` ((container, init) → image) and says why."""
    annotations = {CHANGE_CAUSE: cause}
    if revision is not None:
        annotations[REVISION_ANNOTATION] = str(revision)
    pod_spec: dict[str, Any] = {}
    for (name, init), image in sorted(images.items()):
        pod_spec.setdefault("initContainers" if init else "containers", []).append(
            {"name": name, "image": image}
        )
    return {"metadata": {"annotations": annotations}, "spec": {"template": {"spec": pod_spec}}}


def set_images(
    change: dict[str, Any],
    target: str,
    *,
    cause: str,
    dry_run: bool,
    revision: int | None = None,
) -> bool:
    """Point ``change``'s containers at ``target`` (or, for an undo, each at its own ``old_image``).

    ``target`` ``""`` means undo. Returns whether the Deployment changed; a rerun finds it done and says so.
    """
    inventory = ClusterInventory()
    wanted = {(c["name"], bool(c["init"])): target or c["old_image"] for c in change["containers"]}
    current = _current_images(inventory.read(change["kind"], change["name"]))
    missing = sorted(key[0] for key in wanted if key not in current)
    if missing:
        raise AirflowFailException(
            f"{change['kind']}/{change['name']} has no container {', '.join(missing)} now"
        )
    todo = {key: image for key, image in wanted.items() if current[key] != image}
    evidence = current_evidence()
    if not todo:
        evidence.note(f"{change['kind']}/{change['name']} already runs the wanted images")
        return False
    action = describe_containers(change, target) if target else f"undo: back to {sorted(set(todo.values()))}"
    evidence.change(f"{change['kind']}/{change['name']}", action, applied=not dry_run)
    if not dry_run:
        inventory.apps.patch_namespaced_deployment(
            change["name"], inventory.namespace, patch_body(todo, cause, revision)
        )
    return True


def stuck_pods(pods: list[dict[str, Any]], images: set[str]) -> list[str]:
    """Pods asking for one of ``images`` (the new template's) that cannot become ready, and why."""
    problems = []
    for pod in pods:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        asked = {c.get("image") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}
        if not asked & images:
            continue  # a pod of the old template being replaced says nothing of this rollout
        name = pod["metadata"]["name"]
        for container in (status.get("containerStatuses") or []) + (
            status.get("initContainerStatuses") or []
        ):
            reason = ((container.get("state") or {}).get("waiting") or {}).get("reason")
            if reason in STUCK_REASONS:
                problems.append(f"{name}: container {container['name']} {reason}")
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                problems.append(f"{name}: Unschedulable")
    return problems


def _fail_when_stuck(change: dict[str, Any], images: set[str]) -> Any:
    inventory = ClusterInventory()

    def check(_: Workload) -> None:
        problems = stuck_pods(inventory.pods_of(change["kind"], change["name"]), images)
        if problems:
            raise RolloutFailed(f"{change['name']}: pods cannot become ready: {'; '.join(problems[:5])}")

    return check


def wait_all(changes: list[dict[str, Any]], target: str, timeout: float, dry_run: bool) -> None:
    """Wait until each Deployment runs ``target`` (``""``: its old images) ready; stuck pods fail at once."""
    evidence = current_evidence()
    if dry_run:
        evidence.note(f"dry run: would wait up to {timeout:.0f} s for {len(changes)} rollouts")
        return
    cluster = ReleaseCluster()
    for change in changes:
        images = {target} if target else {c["old_image"] for c in change["containers"]}
        try:
            done = cluster.wait_rolled_out(
                change["name"], timeout, on_progress=_fail_when_stuck(change, images)
            )
        except RolloutFailed as exc:
            evidence.measure("rollout", str(exc), "failure", workload=change["name"])
            raise AirflowFailException(str(exc)) from exc  # final: a retry waits for the same stuck pods
        evidence.measure(
            "rollout",
            f"{done.ready}/{done.replicas} ready",
            "success",
            workload=f"{change['kind']}/{change['name']}",
        )
