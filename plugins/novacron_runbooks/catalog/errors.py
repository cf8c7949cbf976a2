"""Catalog errors that name the file and the field, so a broken definition is fixed in one look."""

from __future__ import annotations


class CatalogError(ValueError):
    """A runbook definition is invalid."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        super().__init__(f"{source}: {field}: {message}")
