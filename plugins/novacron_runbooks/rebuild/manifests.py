"""The kept manifests (``include/k8s/``): the application as production runs it, rendered for one recovery.

The deployment history tells *which* release was good; these files tell *what* the application is made of
(Deployments, Service, autoscaler, config) when the cluster no longer knows. Rendering is pure so that the
recovery plan can be tested without a cluster and shown in a dry run exactly as it would be applied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from novacron_runbooks.paths import include_dir
from novacron_runbooks.release.cluster import APP, CONTAINER, SERVICE, colour_deployment

API_MANIFESTS = "novacron-api.yaml"
DWCP_MANIFESTS = "dwcp-agent.yaml"
API_CONFIG = f"{APP}-config"
DWCP_AGENT = "dwcp-agent"


class ManifestError(ValueError):
    """A kept manifest file is missing or not the shape the recovery needs; names the file and object."""


@dataclass(frozen=True)
class DatabaseAddress:
    """Where the application finds its database (the ConfigMap's ``DATABASE_HOST`` / ``DATABASE_PORT``)."""

    host: str
    port: int


def load_kept(filename: str) -> list[dict[str, Any]]:
    """Read one kept manifest file of ``include/k8s/`` (``yaml.safe_load_all``, documents only)."""
    path = include_dir() / "k8s" / filename
    if not path.is_file():
        raise ManifestError(f"kept manifests {path} do not exist")
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    for doc in docs:
        if not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            raise ManifestError(f"{filename}: every document needs a kind and metadata.name")
    return docs


def _in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(doc)
    obj["metadata"]["namespace"] = namespace
    return obj


def _set_api_image(obj: dict[str, Any], image: str) -> None:
    containers = obj["spec"]["template"]["spec"]["containers"]
    main = [c for c in containers if c.get("name") == CONTAINER]
    if not main:
        raise ManifestError(f"Deployment {obj['metadata']['name']} has no {CONTAINER!r} container")
    main[0]["image"] = image


def kept_api_image(docs: list[dict[str, Any]]) -> str:
    """Return the API image the kept manifests were last reviewed with (the last-resort release)."""
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == colour_deployment("blue"):
            containers = doc["spec"]["template"]["spec"]["containers"]
            return str(next(c["image"] for c in containers if c.get("name") == CONTAINER))
    raise ManifestError(f"{API_MANIFESTS}: no {colour_deployment('blue')} Deployment")


def render_api(
    docs: list[dict[str, Any]], *, namespace: str, image: str, colour: str, database: DatabaseAddress
) -> list[dict[str, Any]]:
    """Render the application for ``colour`` running ``image``.

    The recreated colour keeps the kept replica count; the other colour is created idle (0 replicas, same
    image) so that the next blue-green deployment finds both. The Service and the autoscaler point at
    ``colour``; the ConfigMap takes the database address the runbooks themselves use.
    """
    active = colour_deployment(colour)
    rendered = []
    for doc in docs:
        obj = _in_namespace(doc, namespace)
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "Deployment" and name.startswith(f"{APP}-"):
            _set_api_image(obj, image)
            if name != active:
                obj["spec"]["replicas"] = 0
        elif kind == "Service" and name == SERVICE:
            obj["spec"]["selector"] = {"app": APP, "color": colour}
        elif kind == "HorizontalPodAutoscaler":
            obj["spec"]["scaleTargetRef"]["name"] = active
        elif kind == "ConfigMap" and name == API_CONFIG:
            obj["data"]["DATABASE_HOST"] = database.host
            obj["data"]["DATABASE_PORT"] = str(database.port)
        rendered.append(obj)
    return rendered


def render_dwcp(docs: list[dict[str, Any]], *, namespace: str) -> list[dict[str, Any]]:
    return [_in_namespace(doc, namespace) for doc in docs]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise ManifestError(f"the kept manifests have no {kind} {name}")
