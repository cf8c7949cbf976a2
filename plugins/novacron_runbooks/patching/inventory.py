"""Find every workload of the namespace whose containers (init containers included) run an affected image.

A workload is affected when its pod template asks for an affected image (by tag or digest), or when one of its
pods runs one: a template may name a tag whose pulled digest is what the advisory lists, and only the pod's
``imageID`` tells. Pods that no listed workload owns (a bare pod, a Job's) are reported apart: the runbook
cannot patch them and must not call the CVE closed while they run.

The scan is pure (plain dicts in, findings out) so that matching is unit-tested without a cluster;
:class:`ClusterInventory` reads the objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from novacron_runbooks.hooks.kubernetes import cluster_hook, namespace

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from novacron_runbooks.patching.images import AffectedImages

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
PATCHABLE = ("Deployment",)
"""Kinds this runbook rolls; an affected workload of another kind is reported for a person to patch."""


@dataclass(frozen=True)
class ContainerHit:
    """One container of a workload that runs an affected image, and why it counts as affected."""

    name: str
    init: bool
    image: str
    why: str


@dataclass
class Finding:
    """An affected workload: its containers on an affected image and the pods seen running one."""

    kind: str
    name: str
    replicas: int
    template_hash: str
    generation: int
    containers: list[ContainerHit] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def template_hash(obj: dict[str, Any]) -> str:
    """Fingerprint of the pod template: what a patch changes, and what controllers never rewrite."""
    template = (obj.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


def _containers(pod_spec: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    return [(c, False) for c in pod_spec.get("containers") or []] + [
        (c, True) for c in pod_spec.get("initContainers") or []
    ]


def pod_hits(pod: dict[str, Any], affected: AffectedImages) -> list[ContainerHit]:
    """Containers of one pod on an affected image, by what it asks for or by the digest it runs."""
    hits: dict[str, ContainerHit] = {}
    for container, init in _containers(pod.get("spec") or {}):
        why = affected.spec_match(str(container.get("image", "")))
        if why:
            hits[container["name"]] = ContainerHit(container["name"], init, container["image"], why)
    status = pod.get("status") or {}
    for key, init in (("containerStatuses", False), ("initContainerStatuses", True)):
        for running in status.get(key) or []:
            why = affected.running_match(running.get("imageID"))
            if why and running["name"] not in hits:
                hits[running["name"]] = ContainerHit(
                    running["name"], init, str(running.get("image", "")), why
                )
    return list(hits.values())


def pod_owner(pod: dict[str, Any], rs_owners: dict[str, str]) -> str | None:
    """``Kind/name`` of the workload that owns ``pod`` (through its ReplicaSet for a Deployment)."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            deployment = rs_owners.get(ref["name"])
            return f"Deployment/{deployment}" if deployment else None
        if ref.get("kind") in KINDS:
            return f"{ref['kind']}/{ref['name']}"
    return None


def replica_set_owners(replica_sets: list[dict[str, Any]]) -> dict[str, str]:
    owners = {}
    for rs in replica_sets:
        for ref in rs["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                owners[rs["metadata"]["name"]] = ref["name"]
    return owners


def _finding(kind: str, obj: dict[str, Any], affected: AffectedImages) -> Finding:
    spec = obj.get("spec") or {}
    finding = Finding(
        kind=kind,
        name=obj["metadata"]["name"],
        replicas=int(spec.get("replicas", 1)) if kind != "DaemonSet" else -1,
        template_hash=template_hash(obj),
        generation=int(obj["metadata"].get("generation") or 0),
    )
    for container, init in _containers((spec.get("template") or {}).get("spec") or {}):
        why = affected.spec_match(str(container.get("image", "")))
        if why:
            finding.containers.append(ContainerHit(container["name"], init, container["image"], why))
    return finding


def _add_pod(finding: Finding, pod: dict[str, Any], hits: list[ContainerHit], templated: set[str]) -> None:
    finding.pods.append(pod["metadata"]["name"])
    for hit in hits:
        if hit.name in templated:  # a running digest of a container the template names: patch that container
            finding.containers.append(hit)
            templated.discard(hit.name)


@dataclass
class Scan:
    """The result of one scan: affected workloads, a fingerprint of the others, and pods nobody owns."""

    affected: list[Finding]
    untouched: dict[str, dict[str, Any]]
    unowned_pods: list[str]


def scan(
    workloads: list[tuple[str, dict[str, Any]]],
    pods: list[dict[str, Any]],
    replica_sets: list[dict[str, Any]],
    affected: AffectedImages,
) -> Scan:
    """Match every workload and pod against ``affected`` (pure: the matching is tested without a cluster)."""
    findings = {f"{kind}/{obj['metadata']['name']}": _finding(kind, obj, affected) for kind, obj in workloads}
    pending = {
        key: {
            c["name"]
            for c, _ in _containers(((obj.get("spec") or {}).get("template") or {}).get("spec") or {})
        }
        - {h.name for h in findings[key].containers}
        for key, (kind, obj) in zip(findings, workloads, strict=True)
    }
    owners, unowned = replica_set_owners(replica_sets), []
    for pod in pods:
        hits = pod_hits(pod, affected)
        if not hits:
            continue
        owner = pod_owner(pod, owners)
        if owner not in findings:
            unowned.append(f"{pod['metadata']['name']} ({', '.join(f'{h.name}: {h.why}' for h in hits)})")
            continue
        _add_pod(findings[owner], pod, hits, pending[owner])
    hit = [f for f in findings.values() if f.containers]
    untouched = {
        key: {"template_hash": f.template_hash, "generation": f.generation}
        for key, f in findings.items()
        if not f.containers
    }
    return Scan(sorted(hit, key=lambda f: f.key), untouched, sorted(unowned))


class ClusterInventory:
    """Read the namespace's workloads, ReplicaSets and pods as plain dicts."""

    def __init__(self, api_client: ApiClient | None = None, ns: str | None = None) -> None:
        from kubernetes.client import AppsV1Api, CoreV1Api

        self.api_client = api_client or cluster_hook().api_client
        self.apps = AppsV1Api(self.api_client)
        self.core = CoreV1Api(self.api_client)
        self.namespace = ns or namespace()
        self.not_served: list[str] = []

    def _items(self, result: Any) -> list[dict[str, Any]]:
        plain: dict[str, Any] = self.api_client.sanitize_for_serialization(result)
        return list(plain.get("items") or [])

    def workloads(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Deployment, StatefulSet and DaemonSet; a kind the API does not serve is noted, not fatal."""
        from kubernetes.client.exceptions import ApiException

        readers = {
            "Deployment": self.apps.list_namespaced_deployment,
            "StatefulSet": self.apps.list_namespaced_stateful_set,
            "DaemonSet": self.apps.list_namespaced_daemon_set,
        }
        found: list[tuple[str, dict[str, Any]]] = []
        self.not_served = []
        for kind, read in readers.items():
            try:
                found += [(kind, obj) for obj in self._items(read(self.namespace))]
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.not_served.append(kind)
        return found

    def scan(self, affected: AffectedImages) -> Scan:
        workloads = self.workloads()
        replica_sets = self._items(self.apps.list_namespaced_replica_set(self.namespace))
        pods = self._items(self.core.list_namespaced_pod(self.namespace))
        return scan(workloads, pods, replica_sets, affected)

    def read(self, kind: str, name: str) -> dict[str, Any]:
        readers = {
            "Deployment": self.apps.read_namespaced_deployment,
            "StatefulSet": self.apps.read_namespaced_stateful_set,
            "DaemonSet": self.apps.read_namespaced_daemon_set,
        }
        plain: dict[str, Any] = self.api_client.sanitize_for_serialization(
            readers[kind](name, self.namespace)
        )
        return plain

    def pods_of(self, kind: str, name: str) -> list[dict[str, Any]]:
        """Pods of one workload now, through the same owner chain the scan uses."""
        owners = replica_set_owners(self._items(self.apps.list_namespaced_replica_set(self.namespace)))
        pods = self._items(self.core.list_namespaced_pod(self.namespace))
        return [p for p in pods if pod_owner(p, owners) == f"{kind}/{name}"]
