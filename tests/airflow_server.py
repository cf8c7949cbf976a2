"""pytest plugin: a real ``airflow standalone`` for tests through the REST API, the API server and the real
scheduler, triggerer and dag-processor (``pytest_plugins = ["airflow_server"]``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tcp_proxy import TcpProxy

from sandbox.airflow import AirflowServer, start_standalone
from sandbox.layout import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def execution_api_proxy(sandbox) -> Iterator[TcpProxy]:
    """The loopback proxy the session server's tasks reach the execution API through: a test can slow it."""
    with TcpProxy(sandbox.port("airflow")) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def airflow_server(request, sandbox, execution_api_proxy) -> Iterator[AirflowServer]:
    """Start ``airflow standalone`` with the project's DAGs against the sandbox; stop it at the end.

    It listens on the sandbox's ``airflow`` port, so the sandbox's Alertmanager reaches its bridge. DAGs start
    paused: unpaused, the scheduled ones (hourly and daily backups, the validation restore) would each run at
    once against the session's sandbox, beside the tests that use its database. Tests unpause what they run;
    ``runbook_review`` (read-only) is unpaused here. Tasks call the execution API through
    ``execution_api_proxy``, so a test can make the API server slow for them alone.
    """
    home = Path(tempfile.mkdtemp(prefix="novacron-standalone-"))
    try:
        server = start_standalone(
            home,
            dags_folder=REPO_ROOT / "dags",
            wait_for_dag="runbook_review",
            port=sandbox.port("airflow"),
            extra_env={
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                    f"http://127.0.0.1:{execution_api_proxy.port}/execution/"
                ),
            },
        )
        # every DAG file served: tests then never race the DAG processor's first parse
        server.wait_for_dags({path.stem for path in (REPO_ROOT / "dags").glob("*.py")})
        status, body = server.request("PATCH", "/api/v2/dags/runbook_review", {"is_paused": False})
        if status != 200:
            raise RuntimeError(f"could not unpause runbook_review: {status} {body}")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    failed_before = request.session.testsfailed
    try:
        yield server
    finally:
        server.stop()
        # the home (logs, reports, the SQLite database) is kept only when a test using it failed
        if request.session.testsfailed == failed_before:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"airflow standalone home kept for its logs: {home}")
