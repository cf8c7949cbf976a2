"""What the stand-in knows about the cluster, refreshed by polling the Kubernetes API.

Routing follows a plain Service: a request goes to one ready pod chosen uniformly among the pods the Service
selector matches, so traffic splits by ready replicas (a canary with 1 of 10 ready pods gets about 10%).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
API_PREFIX = "novacron-api"
DWCP_DEPLOYMENT = "dwcp-agent"
API_CONFIG = "novacron-api-config"


@dataclass(frozen=True)
class Backend:
    """One ready pod behind the Service."""

    pod: str
    deployment: str
    version: str
    track: str
    containers: tuple[str, ...]


@dataclass
class ClusterView:
    """The latest poll; ``reachable`` turns False while the Kubernetes API cannot be read."""

    selector: dict[str, str] = field(default_factory=dict)
    backends: list[Backend] = field(default_factory=list)
    by_deployment: dict[str, list[Backend]] = field(default_factory=dict)
    deployments: dict[str, dict[str, int]] = field(default_factory=dict)
    dwcp_pods: dict[str, bool] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    reachable: bool = False
    polled: bool = False

    def pick(self, deployment: str | None = None) -> Backend | None:
        """Choose a ready pod the Service selects (or one of ``deployment``'s, for smoke checks)."""
        pool = self.by_deployment.get(deployment, []) if deployment else self.backends
        return random.choice(pool) if pool else None


def image_tag(image: str) -> str:
    """Return the tag of an image reference; a digest-only reference yields its short digest."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1].split(":")[-1][:12]
    return last.partition(":")[2] or "latest"


def _owner_deployment(pod: dict[str, Any]) -> str | None:
    labels = pod["metadata"].get("labels") or {}
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            digest = labels.get("pod-template-hash")
            name = ref["name"]
            return (
                name[: -len(digest) - 1] if digest and name.endswith(f"-{digest}") else name.rsplit("-", 1)[0]
            )
    return None


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def build_view(
    service: dict[str, Any] | None,
    deployments: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    config: dict[str, Any] | None = None,
) -> ClusterView:
    """Turn raw API objects into the routing table and the numbers the metrics mirror."""
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    deploy_labels = {d["metadata"]["name"]: d["metadata"].get("labels") or {} for d in deployments}
    data = (config or {}).get("data") or {}
    view = ClusterView(
        selector=dict(selector),
        config={str(k): str(v) for k, v in data.items()},
        reachable=True,
        polled=True,
    )
    for dep in deployments:
        name = dep["metadata"]["name"]
        if name.startswith(API_PREFIX) or name == DWCP_DEPLOYMENT:
            status = dep.get("status") or {}
            view.deployments[name] = {
                "spec": int(dep["spec"].get("replicas", 1)),
                "ready": int(status.get("readyReplicas", 0)),
            }
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        owner = _owner_deployment(pod) or ""
        if owner == DWCP_DEPLOYMENT:
            view.dwcp_pods[pod["metadata"]["name"]] = _ready(pod)
            continue
        if not owner.startswith(API_PREFIX) or not _ready(pod):
            continue
        containers = pod["spec"].get("containers") or []
        main = next((c for c in containers if c.get("name") == "api"), containers[0] if containers else {})
        canary = labels.get("track") == "canary" or deploy_labels.get(owner, {}).get("track") == "canary"
        backend = Backend(
            pod["metadata"]["name"],
            owner,
            image_tag(str(main.get("image", ""))),
            "canary" if canary else "stable",
            tuple(c["name"] for c in containers),
        )
        view.by_deployment.setdefault(owner, []).append(backend)
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            view.backends.append(backend)
    return view


class ClusterPoller:
    """Poll the Service, the Deployments and the Pods of the namespace with plain GETs."""

    def __init__(
        self, k8s_url: str, namespace: str, service: str = API_PREFIX, interval: float = 0.5
    ) -> None:
        self.base = k8s_url.rstrip("/")
        self.namespace = namespace
        self.service = service
        self.interval = interval
        self.view = ClusterView()

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        """Refresh the view; on failure keep the last one but mark the API unreachable."""
        ns = self.namespace
        try:
            async with session.get(f"{self.base}/api/v1/namespaces/{ns}/services/{self.service}") as resp:
                service = await resp.json() if resp.status == 200 else None
            async with session.get(f"{self.base}/apis/apps/v1/namespaces/{ns}/deployments") as resp:
                resp.raise_for_status()
                deployments = (await resp.json())["items"]
            async with session.get(f"{self.base}/api/v1/namespaces/{ns}/pods") as resp:
                resp.raise_for_status()
                pods = (await resp.json())["items"]
            async with session.get(f"{self.base}/api/v1/namespaces/{ns}/configmaps/{API_CONFIG}") as resp:
                config = await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
            if self.view.reachable:
                log.warning("cannot read the Kubernetes API at %s: %s", self.base, exc)
            self.view.reachable = False
            return
        self.view = build_view(service, deployments, pods, config)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``."""
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(
            timeout=timeout, headers={"Authorization": "Bearer sandbox"}
        ) as session:
            while not stop.is_set():
                await self.poll_once(session)
                try:
                    await asyncio.wait_for(stop.wait(), self.interval)
                except TimeoutError:
                    pass
