"""The runbook definitions behind the backup DAGs, with one source for the backup objectives.

``backup`` is the index's runbook (catalog). The scheduled jobs ``backup_hourly``, ``backup_daily`` and
``backup_validation`` come from ``include/scheduled/``; they take the catalog runbook's thresholds (RPO,
backup ages, retention, test restore time) so that the numbers live in one place, ``backup.yaml``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

from novacron_runbooks.catalog import catalog_runbook, scheduled_job

if TYPE_CHECKING:
    from novacron_runbooks.catalog import Runbook

BACKUP_RUNBOOK = "backup"


@functools.cache
def backup_job(name: str) -> Runbook:
    """Return the catalog's ``backup`` runbook, or a scheduled backup job with its thresholds."""
    catalog_entry = catalog_runbook(BACKUP_RUNBOOK)
    if name == BACKUP_RUNBOOK:
        return catalog_entry
    return dataclasses.replace(scheduled_job(name), thresholds=dict(catalog_entry.thresholds))


def retention_full(runbook: Runbook) -> int:
    return int(runbook.threshold("retention_full").value)
