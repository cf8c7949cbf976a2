"""Prometheus, Alertmanager, the Pushgateway and the postgres exporter from Debian's packages, on our ports.

Their configs are rendered from the templates in ``include/sandbox/`` into the sandbox folder and validated
with promtool / amtool before anything starts, so a broken template fails loudly instead of a daemon quietly
running on defaults. Nothing here reads or writes /etc/prometheus or the packages' system services.
"""

from __future__ import annotations

import secrets
import subprocess
from string import Template
from typing import TYPE_CHECKING

from sandbox.alert_timing import ALERTS_DIR, rules_dir, write_rules
from sandbox.layout import HOST, REPO_ROOT
from sandbox.postgres import DB_NAME, writable
from sandbox.processes import SandboxError
from sandbox.tools import PG_USER, find_tools

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox.layout import Layout

TEMPLATES = REPO_ROOT / "include" / "sandbox"
WEBHOOK_PATH = "/novacron/alertmanager/webhook"


def monitoring_dir(layout: Layout) -> Path:
    return layout.root / "monitoring"


def webhook_url(layout: Layout) -> str:
    """Return the Alertmanager bridge of the sandbox's Airflow (port 8080 + the sandbox's port offset)."""
    return f"{layout.url('airflow')}{WEBHOOK_PATH}"


def alertmanager_token(layout: Layout) -> Path:
    """Bearer token Alertmanager presents to the Airflow webhook; generated once per sandbox (mode 0600)."""
    return layout.secret_file("alertmanager_token", lambda: secrets.token_urlsafe(32))


def _render(template: str, target: Path, **fields: object) -> Path:
    text = Template((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in fields.items()})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _validate(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise SandboxError(f"{what} rejected the generated config:\n{proc.stdout}{proc.stderr}")


def prepare(layout: Layout) -> None:
    """Render both configs, copy the alert rules as generated, validate with the packages' own checkers."""
    tools = find_tools()
    if not ALERTS_DIR.exists():
        ALERTS_DIR.mkdir(parents=True)
        (ALERTS_DIR / ".gitkeep").touch()
    write_rules(layout)
    folder = monitoring_dir(layout)
    prom = _render(
        "prometheus.yml",
        folder / "prometheus.yml",
        host=HOST,
        alerts_dir=rules_dir(layout),
        standin_port=layout.port("standin"),
        pg_exporter_port=layout.port("pg_exporter"),
        prometheus_port=layout.port("prometheus"),
        alertmanager_port=layout.port("alertmanager"),
        pushgateway_port=layout.port("pushgateway"),
        statsd_exporter_port=layout.port("statsd_exporter"),
    )
    am = _render(
        "alertmanager.yml",
        folder / "alertmanager.yml",
        webhook_url=webhook_url(layout),
        token_file=alertmanager_token(layout),
    )
    _validate([tools["promtool"], "check", "config", str(prom)], "promtool check config")
    _validate([tools["amtool"], "check-config", str(am)], "amtool check-config")


def exporter_command(layout: Layout) -> tuple[list[str], dict[str, str]]:
    """Connect the exporter through the primary's socket as superuser (trusted locally): it sees all stats.

    The primary is the cluster accepting writes when the exporter starts (after a failover, the replica
    folder's); a later failover leaves it watching the old node until it is restarted.
    """
    cluster = writable(layout)
    dsn = f"host={cluster.socket_dir} port={cluster.port} user={PG_USER} dbname={DB_NAME} sslmode=disable"
    argv = [
        find_tools()["prometheus-postgres-exporter"],
        f"--web.listen-address={HOST}:{layout.port('pg_exporter')}",
    ]
    return argv, {"DATA_SOURCE_NAME": dsn}


def alertmanager_command(layout: Layout) -> list[str]:
    folder = monitoring_dir(layout)
    return [
        find_tools()["prometheus-alertmanager"],
        f"--config.file={folder / 'alertmanager.yml'}",
        f"--storage.path={folder / 'alertmanager-data'}",
        f"--web.listen-address={HOST}:{layout.port('alertmanager')}",
        f"--web.external-url={layout.url('alertmanager')}",
        "--cluster.listen-address=",
    ]


def pushgateway_command(layout: Layout) -> list[str]:
    """Run the Pushgateway batch jobs (backups) push to, persisted so a restart keeps the last results.

    Prometheus scrapes it with ``honor_labels`` so the pushed ``job``/``type`` labels stay the jobs' own.
    """
    folder = monitoring_dir(layout)
    return [
        find_tools()["prometheus-pushgateway"],
        f"--web.listen-address={HOST}:{layout.port('pushgateway')}",
        f"--persistence.file={folder / 'pushgateway.data'}",
        "--persistence.interval=5s",
    ]


def prometheus_command(layout: Layout) -> list[str]:
    folder = monitoring_dir(layout)
    return [
        find_tools()["prometheus"],
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'prometheus-data'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address={HOST}:{layout.port('prometheus')}",
        f"--web.external-url={layout.url('prometheus')}",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
    ]
