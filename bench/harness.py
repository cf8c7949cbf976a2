"""What every benchmark needs: its own sandbox on its own ports, started and stopped like a developer's."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "plugins", REPO, REPO / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from sandbox.connections import read_env_file  # noqa: E402
from sandbox.layout import Layout  # noqa: E402


def start_sandbox(offset: int) -> Layout:
    """Start a sandbox in a fresh folder and export its connections to this process."""
    root = Path(tempfile.mkdtemp(prefix="novacron-bench-"))
    root.chmod(0o755)
    layout = Layout(root=root, port_offset=offset)
    env = {**os.environ, "NOVACRON_SANDBOX_DIR": str(root), "NOVACRON_SANDBOX_PORT_OFFSET": str(offset)}
    subprocess.run(
        [sys.executable, "-m", "sandbox", "start"], cwd=REPO, env=env, check=True, capture_output=True
    )
    os.environ.update(read_env_file(layout))
    os.environ.update({"NOVACRON_SANDBOX_DIR": str(root), "NOVACRON_SANDBOX_PORT_OFFSET": str(offset)})
    return layout


def stop_sandbox(layout: Layout) -> None:
    subprocess.run([sys.executable, "-m", "sandbox", "stop"], cwd=REPO, env=os.environ.copy(), check=False)
