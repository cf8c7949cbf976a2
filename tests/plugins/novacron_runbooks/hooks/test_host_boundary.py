"""Static proof of the production shape: no runbook code starts a program or opens a session on its own.

An Airflow worker is never the database host, so a local subprocess on a data folder works only in a
one-machine sandbox. Every program on another host runs through ``hooks/node.py`` (SSH, pinned host keys);
these checks read the source of every product module and DAG file and fail on any other way out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
PRODUCT = sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").glob("*.py")])
TRANSPORT = REPO / "plugins" / "novacron_runbooks" / "hooks" / "node.py"

LOCAL_PROCESS_MODULES = {"subprocess", "pty", "multiprocessing.popen_fork"}
LOCAL_PROCESS_CALLS = {
    ("os", name)
    for name in ("system", "popen", "kill", "killpg", "fork", "forkpty", "posix_spawn", "posix_spawnp")
} | {("os", f"exec{suffix}") for suffix in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")}
LOCAL_PROCESS_CALLS |= {("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell")}
SESSION_MODULES = {"paramiko", "asyncssh", "airflow.providers.ssh.hooks.ssh"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _calls(tree: ast.AST) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                found.add((owner.id, node.func.attr))
    return found


def test_the_product_is_what_is_scanned() -> None:
    names = {path.relative_to(REPO).as_posix() for path in PRODUCT}
    assert TRANSPORT.relative_to(REPO).as_posix() in names
    assert "dags/dr_database_failure.py" in names
    assert len(PRODUCT) > 100


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_local_process(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    spawned = sorted(
        {
            name
            for name in _imports(tree)
            if name.split(".")[0] in {m.split(".")[0] for m in LOCAL_PROCESS_MODULES}
        }
    )
    assert not spawned, f"{path.name} imports {spawned}: run programs on their host through hooks/node.py"
    called = sorted(f"{owner}.{attr}" for owner, attr in _calls(tree) & LOCAL_PROCESS_CALLS)
    assert not called, f"{path.name} calls {called}: run programs on their host through hooks/node.py"


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: p.relative_to(REPO).as_posix())
def test_only_the_transport_opens_sessions(path: Path) -> None:
    if path == TRANSPORT:
        return
    opened = sorted(_imports(ast.parse(path.read_text())) & SESSION_MODULES)
    assert not opened, f"{path.name} imports {opened}: SSH goes through hooks/node.py (pinned host keys)"


def test_the_scan_catches_a_local_subprocess(tmp_path: Path) -> None:
    """The checks themselves can fail: a module that shells out locally is found."""
    bad = ast.parse("import subprocess\nimport os\nos.kill(1, 9)\nsubprocess.run(['pg_ctl'])\n")
    assert "subprocess" in _imports(bad)
    assert ("os", "kill") in _calls(bad) & LOCAL_PROCESS_CALLS
