"""Validate the catalog and print a summary: ``python -m novacron_runbooks.catalog`` (CI, reviews)."""

from __future__ import annotations

import sys

from novacron_runbooks.catalog import CatalogError, load_catalog


def main() -> int:
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        print(f"invalid catalog: {exc}", file=sys.stderr)
        return 1
    for runbook in catalog:
        severity = "/".join(runbook.severity) or "-"
        print(f"{runbook.name:24} {runbook.category:18} {severity:17} risk={runbook.risk_level}")
    index = catalog.index
    print(
        f"{len(catalog)} runbooks valid (index declares {index.declared_total}, lists {index.listed_total})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
