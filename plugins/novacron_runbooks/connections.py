"""Airflow connection ids the runbooks use.

The same DAG code runs against the local sandbox and against production: only these connections change.
The sandbox (``python -m sandbox start``) writes them as ``AIRFLOW_CONN_*`` variables.
"""

from __future__ import annotations

KUBERNETES = "novacron_k8s"
"""The cluster holding namespace ``novacron`` (conn type ``kubernetes``)."""
KUBERNETES_STANDBY = "novacron_k8s_standby"
"""The standby cluster the DR runbooks recreate the application in with ``target_cluster: standby``."""
DATABASE = "novacron_db"
"""The PostgreSQL primary, database ``novacron`` (conn type ``postgres``); extras ``host``/``port`` may list
every node (libpq multi-host) with ``target_session_attrs: read-write``, so it reaches the primary after a
failover."""
DATABASE_REPLICA = "novacron_db_replica"
"""The streaming replica (conn type ``postgres``); the same extras with ``target_session_attrs: standby``."""
DATABASE_ADMIN = "novacron_db_admin"
"""The operations role (conn type ``postgres``, login and password; superuser): promote, slots, upgrades.
Host and port come from each node of :data:`PGBACKREST`'s ``nodes``, so it reaches one node at a time."""
PGBACKREST = "novacron_pgbackrest"
"""pgBackRest and the database hosts (conn type ``generic``): extras ``stanza``, ``repository`` (the
repository host's SSH connection and pgbackrest.conf), ``nodes`` (each node's SSH connection, address, data
folder and pgbackrest.conf), ``scratch``, ``pg_bindir``, ``replication`` (see ``hooks/pgbackrest.py``)."""
BACKUP_HOST = "novacron_backup_host"
"""SSH to the pgBackRest repository host (conn type ``ssh``, key authentication, ``host_key`` pinned)."""
DB_HOST_PREFIX = "novacron_db_host_"
"""SSH to each database host: ``novacron_db_host_<node>`` with the node's name, ``-`` as ``_``."""
PROMETHEUS = "novacron_prometheus"
"""The Prometheus HTTP API (conn type ``http``)."""
ALERTMANAGER = "novacron_alertmanager"
"""The Alertmanager HTTP API (conn type ``http``)."""
PUSHGATEWAY = "novacron_pushgateway"
"""The Prometheus Pushgateway batch jobs (backups) publish their results to (conn type ``http``)."""
NOVACRON_API = "novacron_api"
"""The NovaCron API as its users reach it (conn type ``http``)."""
SLACK_API = "novacron_slack"
"""Slack Web API (conn type ``slack``; extra ``base_url`` points elsewhere than slack.com when set)."""
AIRFLOW_API = "novacron_airflow_api"
"""Airflow's own public REST API (conn type ``http``, login/password): the DR drill answers with it."""
DRILL = "novacron_drill"
"""Marks an environment as a DR drill target (extra ``drill_allowed: true``); production never has it."""
PAGERDUTY_EVENTS = "novacron_pagerduty"
"""PagerDuty Events API v2 (conn type ``pagerduty_events``; host overrides events.pagerduty.com when set)."""

OPTIONAL = (KUBERNETES_STANDBY, AIRFLOW_API)
"""Not written by the sandbox: the standby cluster only a param asks for (``target_cluster: standby``; the
sandbox has none), and Airflow's own API, whose credentials the demo (``scripts/demo.sh``) exports."""
