"""The sandbox's own Python services: Kubernetes API emulator, Slack/PagerDuty receivers, API stand-in.

They are started by module name with this interpreter, against a small contract: ``--port``, ``--state-dir``
(plus the stand-in's ``--k8s-url`` and ``--db-dsn``) and ``GET /healthz`` answering 200 once ready. That
contract is all the orchestrator knows about them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

import yaml

from sandbox.layout import HOST, NAMESPACE, REPO_ROOT
from sandbox.postgres import app_dsn, primary
from sandbox.processes import SandboxError

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

MODULES = {
    "k8s": "sandbox.k8s",
    "receivers": "sandbox.receivers",
    "standin": "sandbox.standin",
    "statsd_exporter": "sandbox.statsd",
}
STATSD_MAPPING = REPO_ROOT / "include" / "statsd" / "mapping.yml"
KUBE_TOKEN = "sandbox-token"
SEED = REPO_ROOT / "include" / "sandbox" / "k8s-seed.yaml"
API_CONFIG = "novacron-api-config"


def module_present(component: str) -> bool:
    """Tell whether ``python -m <module>`` can run: a module, or a package with a ``__main__``."""
    spec = importlib.util.find_spec(MODULES[component])
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:
        return importlib.util.find_spec(MODULES[component] + ".__main__") is not None
    return True


def command(layout: Layout, component: str) -> list[str]:
    """argv of ``component``; raises naming the module when it does not exist yet."""
    module = MODULES[component]
    if not module_present(component):
        raise SandboxError(f"{component}: module {module} is missing, so this component cannot start")
    state = layout.state_dir / component
    state.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", module, "--port", str(layout.port(component)), "--state-dir", str(state)]
    if component == "standin":
        argv += ["--k8s-url", layout.url("k8s"), "--db-dsn", app_dsn(layout), "--follow-config"]
    if component == "k8s":
        argv += ["--seed", str(write_seed(layout))]
    if component == "statsd_exporter":
        argv += ["--udp-port", str(layout.port("statsd")), "--mapping", str(STATSD_MAPPING)]
    return argv


def write_seed(layout: Layout) -> Path:
    """Write the emulator's seed with the API's database address set to this sandbox's primary.

    The committed seed names the default port; a sandbox moved by a port offset must not point its
    application at another sandbox's database. The emulator loads the seed only into an empty store, so a
    ConfigMap a runbook repointed (after a failover) keeps its address across restarts.
    """
    docs = [d for d in yaml.safe_load_all(SEED.read_text()) if isinstance(d, dict)]
    for doc in docs:
        if doc.get("kind") == "ConfigMap" and doc["metadata"].get("name") == API_CONFIG:
            doc["data"].update({"DATABASE_HOST": HOST, "DATABASE_PORT": str(primary(layout).port)})
    path = layout.state_dir / "k8s-seed.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def environment() -> dict[str, str]:
    """Our environment with the repository and ``plugins/`` importable, wherever the CLI was started from."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT), str(REPO_ROOT / "plugins")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_kubeconfig(layout: Layout) -> None:
    """Write a kubeconfig for the emulator: any bearer token passes; the context's namespace is novacron."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "novacron-sandbox", "cluster": {"server": f"http://{HOST}:{layout.port('k8s')}"}}
        ],
        "users": [{"name": "novacron-sandbox", "user": {"token": KUBE_TOKEN}}],
        "contexts": [
            {
                "name": "novacron-sandbox",
                "context": {
                    "cluster": "novacron-sandbox",
                    "user": "novacron-sandbox",
                    "namespace": NAMESPACE,
                },
            }
        ],
        "current-context": "novacron-sandbox",
    }
    layout.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    layout.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
