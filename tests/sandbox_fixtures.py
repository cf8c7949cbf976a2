"""pytest plugin: a real sandbox for the whole test session (``pytest_plugins = ["sandbox_fixtures"]``).

The sandbox is started through its CLI in a child process, exactly as a developer starts it, so the daemons
are not children of pytest and the test layout (own folder, own ports) can never touch a developer's sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sandbox.connections import read_env_file
from sandbox.layout import REPO_ROOT, Layout

if TYPE_CHECKING:
    from collections.abc import Iterator

TEST_PORT_OFFSET = int(os.environ.get("NOVACRON_TEST_SANDBOX_PORT_OFFSET", "100"))
"""Tests run beside a developer's own sandbox (offset 0), so they use ports shifted by this much."""


def make_layout(port_offset: int = TEST_PORT_OFFSET) -> Layout:
    """Create a fresh sandbox folder under the system temp folder, where the postgres user can reach it."""
    root = Path(tempfile.mkdtemp(prefix="novacron-sandbox-"))
    root.chmod(0o755)
    return Layout(root=root, port_offset=port_offset)


def sandbox_env(layout: Layout) -> dict[str, str]:
    """Environment that points ``python -m sandbox`` (and ``default_layout()``) at ``layout``."""
    return {"NOVACRON_SANDBOX_DIR": str(layout.root), "NOVACRON_SANDBOX_PORT_OFFSET": str(layout.port_offset)}


def run_sandbox(layout: Layout, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sandbox <args>`` against ``layout``; the exit code is the caller's to judge."""
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **sandbox_env(layout)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Layout]:
    """Start a small sandbox once per session, export its ``AIRFLOW_CONN_*`` variables, stop it at the end.

    A start where only some non-database components are unhealthy still yields, so the tests that need the
    healthy parts run and the others fail on their own, naming what is missing.
    """
    layout = make_layout()
    started = run_sandbox(layout, "start", "--size", "small")
    sys.stdout.write(started.stdout)
    if started.returncode not in (0, 1):
        run_sandbox(layout, "stop")
        pytest.fail(f"sandbox start failed:\n{started.stdout}\n{started.stderr}")
    saved = dict(os.environ)
    os.environ.update(read_env_file(layout))
    os.environ.update(sandbox_env(layout))
    try:
        yield layout
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stopped = run_sandbox(layout, "stop")
        if stopped.returncode == 0:
            shutil.rmtree(layout.root, ignore_errors=True)
        else:
            sys.stderr.write(f"sandbox stop failed, {layout.root} kept:\n{stopped.stderr}")
