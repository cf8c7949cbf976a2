"""The runbook catalog: all runbooks of the index as validated data."""

from __future__ import annotations

from novacron_runbooks.catalog.errors import CatalogError
from novacron_runbooks.catalog.loader import default_catalog, load_catalog, scheduled_job
from novacron_runbooks.catalog.model import Catalog, Runbook, Threshold

__all__ = [
    "Catalog",
    "CatalogError",
    "Runbook",
    "Threshold",
    "default_catalog",
    "load_catalog",
    "scheduled_job",
]
