"""Write the rule groups as one YAML file, and tell whether the committed file still matches the catalog.

The output is deterministic (catalog order, fixed key order, no timestamps), so the committed file changes
only when the catalog or the specs do, and a review shows exactly which rule moved.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import yaml

from novacron_runbooks.alerts.contract import BACKUP_LAST_SUCCESS, BACKUP_LAST_VERIFIED
from novacron_runbooks.alerts.rules import BASE_URL_ENV, airflow_base_url, build_groups
from novacron_runbooks.paths import include_dir

if TYPE_CHECKING:
    from pathlib import Path

    from novacron_runbooks.catalog import Catalog

RULES_FILE = "novacron-runbooks.yml"
RENDER_COMMAND = "PYTHONPATH=plugins python -m novacron_runbooks.alerts render"
CHECK_COMMAND = "PYTHONPATH=plugins python -m novacron_runbooks.alerts check"
WIDTH = 110
FOLD_AT = 80


class _Dumper(yaml.SafeDumper):
    """Block style throughout, lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """PromQL keeps its line breaks (``|``); long prose folds at the width (``>``) instead of being quoted."""
    style = "|" if "\n" in data else (">" if len(data) > FOLD_AT else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def header(base_url: str) -> str:
    """Return the comment that opens the file: where it comes from, how to regenerate and check it."""
    return "\n".join(
        [
            "# GENERATED from the runbook catalog (include/runbooks/*.yaml). Do not edit by hand: change",
            "# the catalog's thresholds (or plugins/novacron_runbooks/alerts/specs.py for a rule's shape),",
            "# then run",
            f"#   {RENDER_COMMAND}",
            f"# Drift check (CI, tests/alerts): {CHECK_COMMAND}",
            f"# Runbook links point at {base_url} ({BASE_URL_ENV} at generation time).",
            "# Backup metrics the backup DAG publishes for these rules (Unix times, per pgBackRest type):",
            f"#   {BACKUP_LAST_SUCCESS}{{type}}, {BACKUP_LAST_VERIFIED}{{type}}",
            "",
        ]
    )


def render(catalog: Catalog, base_url: str | None = None) -> str:
    """Return the whole rule file for the catalog."""
    base = (base_url or airflow_base_url()).rstrip("/")
    document: dict[str, Any] = {"groups": build_groups(catalog, base)}
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=WIDTH, allow_unicode=True, default_flow_style=False
    )
    return header(base) + body


def default_out_dir() -> Path:
    """``include/alerts``, the folder the sandbox's and production's Prometheus load rules from."""
    return include_dir() / "alerts"


def write(text: str, out_dir: Path) -> Path:
    """Write the rule file into ``out_dir`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RULES_FILE
    path.write_text(text, encoding="utf-8")
    return path


def drift(expected: str, path: Path) -> str | None:
    """Return a unified diff from the file at ``path`` to ``expected``, or None when they are equal."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == expected:
        return None
    lines = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{path.name} (committed)",
        tofile=f"{path.name} (generated from the catalog)",
    )
    return "".join(lines) or f"{path} is missing\n"
