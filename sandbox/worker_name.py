"""``[core] hostname_callable`` for Celery workers that share one machine.

Airflow records on each task instance the ``hostname`` its worker reports. Two workers on one machine would
both report the machine's name, and nobody could tell which of them ran a task; with this callable each
worker reports ``<machine>-<NOVACRON_CELERY_WORKER>``, so the UI and the REST API show where each task ran.
Kept free of other imports: Airflow imports it in every task process.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """Return the machine's name, suffixed with this worker's name when the stack set one."""
    worker = os.environ.get("NOVACRON_CELERY_WORKER", "")
    machine = socket.gethostname()
    return f"{machine}-{worker}" if worker else machine
