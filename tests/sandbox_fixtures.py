"""pytest plugin: a real sandbox for the whole test session (``pytest_plugins = ["sandbox_fixtures"]``).

The sandbox is started through its CLI in a child process, exactly as a developer starts it, so the daemons
are not children of pytest and the test layout (own folder, own ports) can never touch a developer's sandbox.
"""

from __future__ import annotations

import contextlib
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
from sandbox.processes import port_in_use

if TYPE_CHECKING:
    from collections.abc import Iterator


def xdist_worker_index() -> int:
    """0 for a plain pytest run; N for pytest-xdist's worker ``gwN``, which gets its own sandbox and ports."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw")) if worker.removeprefix("gw").isdigit() else 0


def free_port_offset(skip: int = 0) -> int:
    """Pick a port offset whose ports are all free, so tests run beside a developer's sandbox (offset 0).

    ``NOVACRON_TEST_SANDBOX_PORT_OFFSET`` pins the first worker's block (worker N takes the block N × 100
    above it); otherwise the first free block of 100 wins, skipping ``skip`` free blocks plus one per
    worker before this one (a second sandbox must not take another's ports).
    """
    worker = xdist_worker_index()
    if os.environ.get("NOVACRON_TEST_SANDBOX_PORT_OFFSET"):
        return int(os.environ["NOVACRON_TEST_SANDBOX_PORT_OFFSET"]) + 100 * worker + 50 * skip
    skip += worker
    for offset in range(100, 3000, 100):
        if not any(port_in_use(port) for port in Layout(Path(), offset).ports.values()):
            if skip == 0:
                return offset
            skip -= 1
    raise RuntimeError("no free block of sandbox ports between offsets 100 and 3000")


def make_layout(port_offset: int | None = None) -> Layout:
    """Create a fresh sandbox folder under the system temp folder, where the postgres user can reach it."""
    root = Path(tempfile.mkdtemp(prefix="novacron-sandbox-"))
    root.chmod(0o755)
    return Layout(root=root, port_offset=free_port_offset() if port_offset is None else port_offset)


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


@contextlib.contextmanager
def running_sandbox(layout: Layout, what: str) -> Iterator[Layout]:
    """Start ``layout`` small, point ``AIRFLOW_CONN_*`` at it while inside, stop and remove it after.

    A start where only some non-database components are unhealthy still yields, so the tests that need the
    healthy parts run and the others fail on their own, naming what is missing. The per-process Kubernetes
    hook caches one sandbox's address, so it is dropped on the way in and out.
    """
    from novacron_runbooks.hooks.kubernetes import cluster_hook

    started = run_sandbox(layout, "start", "--size", "small")
    sys.stdout.write(started.stdout)
    if started.returncode not in (0, 1):
        run_sandbox(layout, "stop")
        pytest.fail(f"{what} start failed:\n{started.stdout}\n{started.stderr}")
    saved = dict(os.environ)
    os.environ.update(read_env_file(layout))
    os.environ.update(sandbox_env(layout))
    cluster_hook.cache_clear()
    try:
        yield layout
    finally:
        os.environ.clear()
        os.environ.update(saved)
        cluster_hook.cache_clear()
        stopped = run_sandbox(layout, "stop")
        if stopped.returncode == 0:
            shutil.rmtree(layout.root, ignore_errors=True)
        else:
            sys.stderr.write(f"{what} stop failed, {layout.root} kept:\n{stopped.stderr}")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Layout]:
    """Start a small sandbox once per session (per xdist worker), stop it at the end."""
    with running_sandbox(make_layout(), "sandbox") as layout:
        yield layout


@pytest.fixture
def isolated_sandbox(sandbox: Layout) -> Iterator[Layout]:
    """A second, throw-away sandbox for one destructive test (primary killed, topology changed, app deleted).

    Its connections replace the session sandbox's for the test and are put back after, so the shared sandbox
    the other tests use never sees the fault. Starting one takes about 8 s.
    """
    with running_sandbox(make_layout(port_offset=sandbox.port_offset + 50), "isolated sandbox") as layout:
        yield layout
