"""Render or check the generated alert rules: ``python -m novacron_runbooks.alerts render|check``.

``render`` writes ``include/alerts/novacron-runbooks.yml`` from the catalog; ``check`` (CI, pre-commit)
exits 1 when the committed file differs from what the catalog generates, printing the diff and the command
that fixes it. Both exit 2 on an invalid catalog or a catalog alert no rule can express.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from novacron_runbooks.alerts.render import RENDER_COMMAND, RULES_FILE, default_out_dir, drift, render, write
from novacron_runbooks.alerts.rules import AlertRuleError, substituted_severities, unlisted_alerts
from novacron_runbooks.catalog import CatalogError, load_catalog


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m novacron_runbooks.alerts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("render", f"write {RULES_FILE} from the catalog"),
        ("check", f"exit 1 when the committed {RULES_FILE} differs from the catalog"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--out", type=Path, default=None, help="folder of the rule file (default: include/alerts)"
        )
        command.add_argument(
            "--catalog", type=Path, default=None, help="runbook catalog folder (default: include/runbooks)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out_dir: Path = args.out or default_out_dir()
    try:
        catalog = load_catalog(args.catalog)
        text = render(catalog)
    except (CatalogError, AlertRuleError) as exc:
        print(f"cannot generate the alert rules: {exc}", file=sys.stderr)
        return 2
    for alert in unlisted_alerts(catalog):
        print(f"note: no runbook's trigger lists {alert}; no rule generated for it", file=sys.stderr)
    if args.command == "render":
        path = write(text, out_dir)
        for line in substituted_severities(catalog):
            print(f"note: catalog gives no severity, rule uses {line}", file=sys.stderr)
        print(f"wrote {path}")
        return 0
    diff = drift(text, out_dir / RULES_FILE)
    if diff is None:
        print(f"{out_dir / RULES_FILE} matches the catalog")
        return 0
    sys.stdout.write(diff)
    print(f"{out_dir / RULES_FILE} differs from the catalog; fix with: {RENDER_COMMAND}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
