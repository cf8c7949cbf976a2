"""DAG parse time: the whole ``dags/`` folder against a one-task DAG file, each in a fresh interpreter.

The DAG processor re-parses every file on its interval and every task start parses its DAG file again, so
parse time is paid constantly. Each measurement runs in a new process (nothing cached from an earlier
parse, as in a freshly forked worker) after Airflow itself is imported and its objects frozen out of the
garbage collector's passes (``gc.freeze()``, as Airflow does before it forks), so the figure is the parse
alone.
Baseline: a DAG file with one ``EmptyOperator``, parsed the same way in the same run. The per-file times
show where the cost grows: with the number of runbook files, and with what each imports.

Second figure: each DAG file alone in a fresh interpreter (what a task's start-up pays), against the
one-task file measured the same way.

Usage: ``.venv/bin/python bench/parse.py [--repeats 5] [--fresh-repeats 3] [--out bench/results/parse.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ONE_TASK_DAG = """
from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("one_task", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    EmptyOperator(task_id="only")
"""
PROBE = """
import gc, json, sys, time
import airflow  # noqa: F401  - Airflow's own import is not the DAG file's cost
# as Airflow's DAG processor and its Local and Celery executors do before they fork a parser or a task:
# the objects of Airflow's import move out of the collector's reach, so a parse is not charged for
# garbage-collection passes over Airflow's own heap (about 0.2 s per file on this machine otherwise)
gc.freeze()
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
stats = [{"file": s.file, "seconds": s.duration.total_seconds() if hasattr(s.duration, "total_seconds")
          else float(s.duration), "dags": s.dag_num} for s in bag.dagbag_stats]
print(json.dumps({"seconds": elapsed, "dags": len(bag.dags), "errors": len(bag.import_errors),
                  "files": stats}))
"""


def parse_once(folder: Path, home: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    # compiled modules are reused, as on a deployed worker: the figure is the parse, not the compiler
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder)], capture_output=True, text=True, check=True, env=env
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def measure(folder: Path, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="novacron-bench-parse-home-") as home:
        samples = [parse_once(folder, Path(home)) for _ in range(repeats)]
    per_file: dict[str, list[float]] = {}
    for sample in samples:
        for entry in sample["files"]:
            per_file.setdefault(Path(entry["file"]).name, []).append(entry["seconds"])
    slowest = sorted(((statistics.median(v), k) for k, v in per_file.items()), reverse=True)[:5]
    return {
        "median_seconds": round(statistics.median(s["seconds"] for s in samples), 3),
        "dags": samples[0]["dags"],
        "files": len(per_file),
        "import_errors": samples[0]["errors"],
        "slowest_files": [{"file": name, "median_seconds": round(sec, 3)} for sec, name in slowest],
    }


def measure_each_fresh(files: list[Path], repeats: int) -> dict[str, Any]:
    """Each file alone in a new interpreter: what one task start pays to parse its DAG file.

    In a folder parse the first file pays for the imports the others share; a task's start-up parses only
    its own file, in a process that has imported nothing of the project yet, so this is the figure that
    adds to every task's duration.
    """
    per_file: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="novacron-bench-parse-home-") as home:
        for path in files:
            samples = [parse_once(path, Path(home))["seconds"] for _ in range(repeats)]
            per_file[path.name] = round(statistics.median(samples), 3)
    ranked = sorted(per_file.items(), key=lambda item: item[1], reverse=True)
    return {
        "files": len(per_file),
        "median_seconds": round(statistics.median(per_file.values()), 3),
        "slowest_files": [{"file": name, "median_seconds": sec} for name, sec in ranked[:8]],
        "over_100_ms": [name for name, sec in ranked if sec > 0.1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fresh-repeats", type=int, default=3, help="samples per file, each file alone")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "parse.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="novacron-bench-parse-") as folder:
        (Path(folder) / "one_task.py").write_text(ONE_TASK_DAG)
        baseline = measure(Path(folder), args.repeats)
        fresh_baseline = measure_each_fresh([Path(folder) / "one_task.py"], args.repeats)
    runbooks = measure(REPO / "dags", args.repeats)
    fresh = measure_each_fresh(sorted((REPO / "dags").glob("*.py")), args.fresh_repeats)
    result = {
        "repeats": args.repeats,
        "baseline_one_task_file": baseline,
        "dags_folder": runbooks,
        "ratio_to_baseline": round(runbooks["median_seconds"] / baseline["median_seconds"], 1),
        "per_file_median_seconds": round(runbooks["median_seconds"] / max(1, runbooks["files"]), 3),
        "per_file_ratio_to_baseline": round(
            runbooks["median_seconds"] / max(1, runbooks["files"]) / baseline["median_seconds"], 1
        ),
        "fresh_baseline_one_task_file": fresh_baseline,
        "each_file_fresh": fresh,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
