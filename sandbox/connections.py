"""The Airflow connections that point the runbooks at this sandbox, as ``AIRFLOW_CONN_*`` lines.

The ids come from ``novacron_runbooks.connections`` so the DAGs and the sandbox can never disagree on a name;
against production only these values change, never the DAG code.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from sandbox import pgbackrest, ssh
from sandbox.hosts import BACKUP_HOST, DATABASE_HOSTS, Host
from sandbox.layout import HOST, NAMESPACE, REPO_ROOT
from sandbox.monitoring import alertmanager_token
from sandbox.postgres import (
    ADMIN_ROLE,
    APP_ROLE,
    DB_NAME,
    REPLICATION_ROLE,
    REPLICATION_SLOT,
    STANZA,
    admin_password,
    app_password,
    passfile,
    primary,
    replica,
    scratch,
)
from sandbox.tools import PG_USER, find_tools

if TYPE_CHECKING:
    from sandbox.layout import Layout

SLACK_TOKEN = "xoxb-sandbox"
PAGERDUTY_KEY = "sandbox-integration-key-0000000"


def _ids() -> Any:
    """``novacron_runbooks.connections``, importable from ``<repo>/plugins`` as Airflow would load it."""
    plugins = str(REPO_ROOT / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)
    from novacron_runbooks import connections

    return connections


def connections(layout: Layout) -> dict[str, dict[str, Any]]:
    """Map each connection id to Airflow's JSON connection form."""
    ids = _ids()
    receivers = f"http://{HOST}:{layout.port('receivers')}"

    def http(component: str) -> dict[str, Any]:
        return {"conn_type": "http", "host": HOST, "port": layout.port(component), "schema": "http"}

    nodes = (primary(layout), replica(layout))
    # Either node may be the primary after a failover: the extras list both nodes as libpq multi-host
    # keywords, and target_session_attrs picks the node in the wanted role at connect time. They are plain
    # libpq keywords because the Postgres provider's hook passes extras to libpq as they are.
    failover = {
        "host": ",".join(HOST for _ in nodes),
        "port": ",".join(str(node.port) for node in nodes),
    }

    def database(port: int, session: str) -> dict[str, Any]:
        return {
            "conn_type": "postgres",
            "host": HOST,
            "port": port,
            "login": APP_ROLE,
            "password": app_password(layout),
            "schema": DB_NAME,
            "extra": {**failover, "target_session_attrs": session},
        }

    return {
        ids.KUBERNETES: {
            "conn_type": "kubernetes",
            "extra": {"kube_config_path": str(layout.kubeconfig), "namespace": NAMESPACE},
        },
        ids.DATABASE: database(primary(layout).port, "read-write"),
        ids.DATABASE_REPLICA: database(replica(layout).port, "standby"),
        ids.DATABASE_ADMIN: {
            "conn_type": "postgres",
            "host": HOST,
            "port": primary(layout).port,
            "login": ADMIN_ROLE,
            "password": admin_password(layout),
            "schema": "postgres",
        },
        **{host_conn_id(ids, host): ssh_connection(layout, host) for host in (BACKUP_HOST, *DATABASE_HOSTS)},
        ids.PGBACKREST: {
            "conn_type": "generic",
            "extra": {
                "stanza": STANZA,
                "pg_bindir": str(find_tools().pg_bindir),
                "repository": {
                    "ssh_conn_id": ids.BACKUP_HOST,
                    "config": str(pgbackrest.repository_config(layout)),
                },
                "nodes": [
                    {
                        "name": host.name,
                        "ssh_conn_id": host_conn_id(ids, host),
                        "host": HOST,
                        "port": node.port,
                        "data_dir": str(node.data_dir),
                        "socket_dir": str(node.socket_dir),
                        "config": str(pgbackrest.config_of(layout, host.name)),
                        "log_file": str(node.data_dir.with_name(f"{node.data_dir.name}.runbook.log")),
                    }
                    for host, node in zip(DATABASE_HOSTS, nodes, strict=True)
                ],
                "scratch": {
                    "ssh_conn_id": ids.BACKUP_HOST,
                    "host": HOST,
                    "data_dir": str(scratch(layout).data_dir),
                    "port": layout.port("pg_scratch"),
                    "socket_dir": str(scratch(layout).socket_dir),
                    "config": str(pgbackrest.config_of(layout, pgbackrest.SCRATCH)),
                },
                "replication": {"user": REPLICATION_ROLE, "passfile": str(passfile(layout))},
                "replication_slot": REPLICATION_SLOT,
                "timeout": 1800,
            },
        },
        ids.PROMETHEUS: http("prometheus"),
        ids.ALERTMANAGER: http("alertmanager"),
        ids.PUSHGATEWAY: http("pushgateway"),
        ids.NOVACRON_API: http("standin"),
        ids.SLACK_API: {
            "conn_type": "slack",
            "password": SLACK_TOKEN,
            "extra": {"base_url": f"{receivers}/api/"},
        },
        ids.PAGERDUTY_EVENTS: {"conn_type": "pagerduty_events", "password": PAGERDUTY_KEY, "host": receivers},
        # The sandbox is a DR drill target: dr_drill refuses to inject faults where this mark is missing.
        ids.DRILL: {"conn_type": "generic", "extra": {"drill_allowed": True, "environment": "sandbox"}},
    }


def host_conn_id(ids: Any, host: Host) -> str:
    """``novacron_backup_host`` for the repository host, ``novacron_db_host_<node>`` for a database host."""
    if host == BACKUP_HOST:
        return str(ids.BACKUP_HOST)
    return str(ids.DB_HOST_PREFIX) + host.name.replace("-", "_")


def ssh_connection(layout: Layout, host: Host) -> dict[str, Any]:
    """SSH as the database's OS user with the runbooks' key; the host's own public key pinned."""
    return {
        "conn_type": "ssh",
        "host": HOST,
        "port": layout.port(host.sshd),
        "login": PG_USER,
        "extra": {
            "private_key": ssh.client_key(layout).read_text(),
            "host_key": ssh.public_host_key(layout, host),
            "no_host_key_check": False,
            "look_for_keys": False,
            "conn_timeout": 10,
        },
    }


def env_vars(layout: Layout) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` → JSON, ready for ``os.environ.update``."""
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value, sort_keys=True)
        for conn_id, value in connections(layout).items()
    }


def bridge_env(layout: Layout) -> dict[str, str]:
    """Name the file of the token the sandbox's Alertmanager presents to the bridge (not the token)."""
    return {"NOVACRON_ALERTMANAGER_TOKEN_FILE": str(alertmanager_token(layout))}


def metrics_env(layout: Layout) -> dict[str, str]:
    """Send Airflow's own metrics (legacy per-DAG names too) to the sandbox's StatsD exporter."""
    return {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": HOST,
        "AIRFLOW__METRICS__STATSD_PORT": str(layout.port("statsd")),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW__METRICS__LEGACY_NAMES_ON": "True",
    }


RUNBOOK_VARIABLES = {
    # the preflight's error-ratio window: 20 s is ten of the sandbox's 2 s scrapes, as many samples as the
    # index's minute holds at a 6 s scrape (production's 15-30 s scrape keeps the default minute)
    "novacron_preflight_window": "20s",
}
"""Airflow Variables the runbooks read, as the sandbox sets them."""


def variables_env() -> dict[str, str]:
    """``AIRFLOW_VAR_<KEY>`` for each of :data:`RUNBOOK_VARIABLES`."""
    return {f"AIRFLOW_VAR_{key.upper()}": value for key, value in RUNBOOK_VARIABLES.items()}


def write_env_file(layout: Layout) -> None:
    """``connections.env``: one ``export`` per connection, shell-quoted; mode 0600 (it holds a password).

    It also sets the runbooks' Airflow Variables for this sandbox, names the Alertmanager bridge's token
    file, so Airflow started from it (the demo, the tests) accepts the sandbox's Alertmanager, and points
    Airflow's StatsD metrics at the sandbox's exporter.
    """
    exported = {**env_vars(layout), **variables_env(), **bridge_env(layout), **metrics_env(layout)}
    lines = [f"export {name}={shlex.quote(value)}" for name, value in exported.items()]
    path = layout.connections_env
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    header = "# Airflow connections of the local sandbox; `source` this file.\n"
    path.write_text(header + "\n".join(lines) + "\n")


def read_env_file(layout: Layout) -> dict[str, str]:
    """Parse ``connections.env`` back (what a test fixture exports into ``os.environ``)."""
    found: dict[str, str] = {}
    for line in layout.connections_env.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = shlex.split(value)[0]
    return found
