"""Load the seed manifests into an empty store.

The seed is a multi-document YAML of ordinary manifests (what ``kubectl apply -f`` would take), so the
sandbox's starting cluster can be read and changed without touching code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sandbox.k8s.meta import initial_status, prepare_create
from sandbox.k8s.resources import BY_KIND

if TYPE_CHECKING:
    from sandbox.k8s.store import Store

log = logging.getLogger(__name__)
DEFAULT_SEED = Path(__file__).resolve().parents[2] / "include" / "sandbox" / "k8s-seed.yaml"


def load_seed(store: Store, path: Path) -> int:
    """Create every document of ``path`` (namespaces first); returns how many were created."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    docs.sort(key=lambda d: d.get("kind") != "Namespace")
    for doc in docs:
        res = BY_KIND.get(doc.get("kind", ""))
        if res is None:
            raise ValueError(f"{path}: unsupported kind {doc.get('kind')!r}")
        obj = prepare_create(res, doc, (doc.get("metadata") or {}).get("namespace"))
        if res.has_status and res.kind not in ("Namespace", "Node", "Service"):
            obj["status"] = initial_status(res)
        store.create(res, obj)
    log.info("seeded %d objects from %s", len(docs), path)
    return len(docs)
