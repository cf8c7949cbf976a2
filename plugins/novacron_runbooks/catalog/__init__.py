"""The runbook catalog: all runbooks of the index as validated data."""

from __future__ import annotations

from novacron_runbooks.catalog.errors import CatalogError
from novacron_runbooks.catalog.loader import (
    catalog_names,
    catalog_runbook,
    default_catalog,
    load_catalog,
    scheduled_job,
)
from novacron_runbooks.catalog.model import Catalog, Runbook, Threshold

__all__ = [
    "catalog_names",
    "catalog_runbook",
    "Catalog",
    "CatalogError",
    "Runbook",
    "Threshold",
    "default_catalog",
    "load_catalog",
    "scheduled_job",
]
