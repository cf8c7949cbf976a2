"""How a runbook run's duration grows with the number of runs the same Airflow carries at once.

The four read-only diagnostics runbooks (``debug_api``, ``debug_dwcp``, ``debug_database``,
``debug_performance``) really query the sandbox's Prometheus, cluster and PostgreSQL and draw their plots, and
take no lock, so any number of them may run together. After a warm-up run of each (first imports, connections
and caches), each runbook runs alone five times: the median is its baseline. Then N runs are triggered at the
same instant, spread evenly over the four, and each run's duration is divided by its runbook's solo duration;
the figure is the median of those ratios. The time from the trigger to the run's start (the scheduler's delay)
and the batch's makespan against the sum of the solo durations are recorded beside it.

``airflow standalone`` runs with the parallelism the README sets for two cores (4), so the figures show
where queueing for worker slots begins.

Usage: ``.venv/bin/python bench/concurrency.py [--runs 1,4,8] [--out bench/results/concurrency.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import REPO, start_sandbox, stop_sandbox

from sandbox.airflow import AirflowServer, start_standalone

OFFSET = 700
RUNBOOKS = ("debug_api", "debug_dwcp", "debug_database", "debug_performance")
PARALLELISM = 4
RUN_TIMEOUT = 900.0


def _seconds(run: dict[str, Any], start: str, end: str) -> float:
    return datetime.fromisoformat(run[end]).timestamp() - datetime.fromisoformat(run[start]).timestamp()


def trigger(server: AirflowServer, dag_id: str, tag: str) -> str:
    run_id = f"bench_{tag}_{dag_id}_{time.time_ns()}"
    body = {"logical_date": None, "dag_run_id": run_id, "conf": {}}
    status, answer = server.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
    if status != 200:
        raise RuntimeError(f"trigger {dag_id}: {status} {answer}")
    return run_id


def batch(server: AirflowServer, dag_ids: list[str], tag: str) -> list[dict[str, Any]]:
    """Trigger one run of each of ``dag_ids`` back to back; return the finished runs, each checked."""
    started = time.monotonic()
    pending = [(dag_id, trigger(server, dag_id, tag)) for dag_id in dag_ids]
    finished = []
    for dag_id, run_id in pending:
        left = max(RUN_TIMEOUT - (time.monotonic() - started), 1.0)
        run = server.wait_for_run(dag_id, run_id, timeout=left)
        if run["state"] != "success":
            raise RuntimeError(f"{dag_id} {run_id} ended {run['state']}: a benchmark counts only real work")
        finished.append(run)
    return finished


def measure(server: AirflowServer, sizes: list[int], solo_repeats: int) -> dict[str, Any]:
    for dag_id in RUNBOOKS:  # first imports, connections and caches: paid once, not by the baseline
        batch(server, [dag_id], "warm_up")
    solo = {}
    for dag_id in RUNBOOKS:
        alone = [batch(server, [dag_id], "solo")[0] for _ in range(solo_repeats)]
        solo[dag_id] = round(statistics.median(_seconds(r, "start_date", "end_date") for r in alone), 2)
        print(f"solo {dag_id}: {solo[dag_id]} s (median of {solo_repeats})", flush=True)
    series = []
    for size in sizes:
        dag_ids = [RUNBOOKS[i % len(RUNBOOKS)] for i in range(size)]
        runs = batch(server, dag_ids, f"n{size}")
        ratios = [_seconds(r, "start_date", "end_date") / solo[r["dag_id"]] for r in runs]
        delays = [_seconds(r, "queued_at", "start_date") for r in runs]
        first = min(datetime.fromisoformat(r["queued_at"]).timestamp() for r in runs)
        last = max(datetime.fromisoformat(r["end_date"]).timestamp() for r in runs)
        series.append(
            {
                "concurrent_runs": size,
                "median_duration_ratio_to_solo": round(statistics.median(ratios), 2),
                "max_duration_ratio_to_solo": round(max(ratios), 2),
                "median_queued_to_start_seconds": round(statistics.median(delays), 2),
                "makespan_seconds": round(last - first, 1),
                "solo_sum_seconds": round(sum(solo[r["dag_id"]] for r in runs), 1),
            }
        )
        print(json.dumps(series[-1]), flush=True)
    return {
        "parallelism": PARALLELISM,
        "runbooks": list(RUNBOOKS),
        "solo_repeats": solo_repeats,
        "solo_seconds": solo,
        "series": series,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1,4,8", help="concurrent run counts, comma-separated")
    parser.add_argument("--solo-repeats", type=int, default=5, help="solo runs per runbook (median)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "concurrency.json")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.runs.split(","))
    if sizes[0] < 1:
        parser.error("--runs: every count must be at least 1")
    layout = start_sandbox(offset=OFFSET)
    try:
        server = start_standalone(
            Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-")),
            dags_folder=REPO / "dags",
            wait_for_dag=RUNBOOKS[-1],
            parallelism=PARALLELISM,
            port=layout.port("airflow"),
            # the scheduled jobs (backups, validation, drills) would otherwise start at once beside the runs
            extra_env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"},
        )
        try:
            server.unpause(*RUNBOOKS)
            result = measure(server, sizes, args.solo_repeats)
        finally:
            server.stop()
    finally:
        stop_sandbox(layout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
