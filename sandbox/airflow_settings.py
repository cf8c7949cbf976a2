"""Airflow settings every deployment of the runbooks shares: the task runner's calls to the execution API.

A runbook task talks to the API server from its first step (``PATCH .../run``) to its last (the final state).
Airflow's defaults give each call 5 s, then retry. That fails a task on a busy API server: the server still
completes the abandoned start call, so the retry is refused (the task is already running) and the task is
marked failed before its first line ran. The suite has seen a start call answered after 61 s on a loaded
machine, and an SRE's Airflow is busiest during an alert storm, exactly when a runbook must not fail this way.

So: a timeout long enough for a slow answer (a slow server is waited for, not abandoned), and retries with
back-off long enough to ride out an API server restart (connection refused is retried; nothing was done).
The demo (``scripts/airflow-env.sh``), the compose file and the Helm values carry the same values; a test
compares them.
"""

from __future__ import annotations

EXECUTION_API_CLIENT: dict[str, str] = {
    # seconds a worker waits for one answer: covers the slowest answer measured (61 s) twice over
    "execution_api_timeout": "120",
    # attempts per call: with the back-off below, about five minutes of an API server that refuses connections
    "execution_api_retries": "10",
    # back-off between attempts (random exponential between these, in seconds)
    "execution_api_retry_wait_min": "2",
    "execution_api_retry_wait_max": "60",
}
"""``[workers]`` options of Airflow 3.3 (``airflow/sdk/api/client.py`` reads them once, at import)."""

AIRFLOW_DEFAULT_TIMEOUT = 5.0
"""``[workers] execution_api_timeout``'s default in Airflow 3.3: the slow-API test delays answers past it."""


def execution_api_env() -> dict[str, str]:
    """Give the settings as ``AIRFLOW__WORKERS__*`` environment variables, for processes Python starts."""
    return {f"AIRFLOW__WORKERS__{name.upper()}": value for name, value in EXECUTION_API_CLIENT.items()}


SQLITE_BUSY_TIMEOUT_SECONDS = 60
"""How long an embedded Airflow's process waits for SQLite's single write lock before it gives up.

SQLite admits one writer at a time. pysqlite's default wait is 5 s, and on a busy machine the DAG processor
storing 30 DAGs or the scheduler's loop holds the lock longer than that: an API call then ends in a 500
"Database error" (seen on ``PATCH /api/v2/dags/...`` right after a start) and a task's state update can fail
the same way. Waiting is the right answer on one machine; production uses PostgreSQL, where this does not
arise.
"""


def sqlite_url(path: str) -> str:
    """``sql_alchemy_conn`` for a SQLite file that waits :data:`SQLITE_BUSY_TIMEOUT_SECONDS` to write."""
    return f"sqlite:///{path}?timeout={SQLITE_BUSY_TIMEOUT_SECONDS}"
