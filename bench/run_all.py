"""Run every benchmark and write one table: each figure beside its baseline measured in the same run.

Each script in ``bench/`` measures its own baseline in the same run (pgBackRest alone beside the backup DAG,
a one-task DAG file beside the dags folder, the theoretical minimum beside a gate's verdict, ...) and writes
``bench/results/<name>.json``. This runner starts them one after another (each on its own sandbox ports),
then reads every result file and writes ``bench/results/summary.md`` and ``summary.json``. ``--only`` runs
some and keeps the others' last results in the table, each row dated by its result file.

Usage: ``.venv/bin/python bench/run_all.py [--only parse,alert_chain] [--table-only]`` (``make bench``)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rows import READERS

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
ORDER = ("parse", "gates", "concurrency", "rollback", "canary", "alert_chain", "backup", "dr_drill")
"""Cheapest first, so a broken environment shows within minutes; each is ``bench/<name>.py``."""


def run(name: str) -> tuple[bool, float]:
    """Run one benchmark script, date its result file; return whether it succeeded and its wall time."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py")], cwd=REPO, check=False)
    path = RESULTS / f"{name}.json"
    if proc.returncode == 0 and path.exists():
        result = json.loads(path.read_text())
        result["measured_at"] = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        path.write_text(json.dumps(result, indent=2) + "\n")
    return proc.returncode == 0, round(time.monotonic() - started, 1)


def collect() -> list[dict[str, object]]:
    """Every row of the table from the result files present, with the date of the file it came from."""
    table: list[dict[str, object]] = []
    for name in ORDER:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        measured = result.get("measured_at", "unknown")
        table.extend({**entry, "benchmark": name, "measured": measured} for entry in READERS[name](result))
    return table


def markdown(table: list[dict[str, object]]) -> str:
    head = "| benchmark | figure | input | value | baseline | ratio | measured |\n" + "|---" * 7 + "|\n"
    keys = ("benchmark", "figure", "input", "value", "baseline", "ratio", "measured")
    lines = ["| " + " | ".join("–" if r[k] is None else str(r[k]) for k in keys) + " |" for r in table]
    return head + "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    parser.add_argument("--table-only", action="store_true", help="run nothing; rebuild the table")
    args = parser.parse_args()
    chosen = [n for n in ORDER if not args.only or n in args.only.split(",")]
    unknown = set((args.only or "").split(",")) - set(ORDER) - {""}
    if unknown:
        parser.error(f"--only: unknown benchmarks {sorted(unknown)}; known: {', '.join(ORDER)}")
    runs: dict[str, dict[str, object]] = {}
    for name in [] if args.table_only else chosen:
        ok, seconds = run(name)
        runs[name] = {"ok": ok, "wall_seconds": seconds}
        print(f"bench {name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    table = collect()
    (RESULTS / "summary.json").write_text(json.dumps({"runs": runs, "rows": table}, indent=2) + "\n")
    (RESULTS / "summary.md").write_text(markdown(table))
    print(markdown(table))
    return 0 if all(r["ok"] for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
