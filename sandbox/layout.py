"""Where the sandbox keeps its state and which loopback ports it uses.

Ports sit well away from the services' defaults (5432, 9090, 9093, ...) so the sandbox never clashes with a
system PostgreSQL or Prometheus. ``NOVACRON_SANDBOX_PORT_OFFSET`` shifts all of them at once, and
``NOVACRON_SANDBOX_DIR`` moves the state folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
NAMESPACE = "novacron"

_BASE_PORTS = {
    "pg_primary": 25432,
    "pg_replica": 25433,
    "pg_scratch": 25434,
    "prometheus": 29090,
    "alertmanager": 29093,
    "pushgateway": 29091,
    "pg_exporter": 29187,
    "statsd": 29125,  # UDP: Airflow's StatsD metrics
    "statsd_exporter": 29102,  # HTTP: the same metrics for Prometheus
    "k8s": 26443,
    "standin": 28080,
    "receivers": 28090,
    # the hosts' own transports: one sshd per host, one pgBackRest TLS server per host
    "sshd_backup": 26022,
    "sshd_pg_a": 26023,
    "sshd_pg_b": 26024,
    "pgbackrest_repo": 28432,
    "pgbackrest_pg_a": 28433,
    "pgbackrest_pg_b": 28434,
    # not started by the sandbox: the Airflow its Alertmanager calls (the demo's on 8080, a test's beside it)
    "airflow": 8080,
}


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one sandbox instance."""

    root: Path
    port_offset: int = 0

    def port(self, name: str) -> int:
        return _BASE_PORTS[name] + self.port_offset

    @property
    def ports(self) -> dict[str, int]:
        return {name: self.port(name) for name in _BASE_PORTS}

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port(name)}"

    @property
    def run_dir(self) -> Path:
        """pid files."""
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def state_dir(self) -> Path:
        """State of the Python components (emulated cluster, fault switches, received messages)."""
        return self.root / "state"

    @property
    def pg_dir(self) -> Path:
        """PostgreSQL data folders and the pgBackRest repository; owned by the ``postgres`` user."""
        return self.root / "pg"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def secret_file(self, name: str, generate: Callable[[], str]) -> Path:
        """Return the file of a secret generated once per sandbox, mode 0600 (passwords, tokens)."""
        path = self.root / name
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate())
        return path

    @property
    def connections_env(self) -> Path:
        """``AIRFLOW_CONN_*`` lines the demo and tests export."""
        return self.root / "connections.env"


def default_layout() -> Layout:
    root = Path(os.environ.get("NOVACRON_SANDBOX_DIR", REPO_ROOT / ".sandbox")).resolve()
    return Layout(root=root, port_offset=int(os.environ.get("NOVACRON_SANDBOX_PORT_OFFSET", "0")))
