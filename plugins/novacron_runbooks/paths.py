"""Where the project's non-Python assets live.

``include/`` sits beside ``plugins/`` in the repository and in every deployment (compose mounts both under
``/opt/airflow``); ``NOVACRON_INCLUDE_DIR`` overrides it for layouts that differ.
"""

from __future__ import annotations

import os
from pathlib import Path


def include_dir() -> Path:
    override = os.environ.get("NOVACRON_INCLUDE_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "include"


def runbooks_dir() -> Path:
    return include_dir() / "runbooks"
