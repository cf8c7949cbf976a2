"""Emergency rollback on ``airflow standalone``: from the REST trigger to users on the good release again.

Each repetition stages a promoted bad release (``api:1.5.0-bad`` live on green, the history saying so), then
triggers ``rollback`` through the REST API as CI or an incident runbook would, while a probe calls the API
every 100 ms and notes when every answer comes from the good release again. Two paths: the old colour still
up (a selector switch) and the old colour already scaled to zero (its image is rolled out again first).

The time is split along the run's critical path into runbook work (the tasks' own durations: finding the
release, switching, the recovery gate's measurements) and Airflow's overhead (trigger to first task, and the
gaps between one task's end and the next one's start: scheduling, queueing, worker start-up).
Baseline: the index's 5-minute rollback budget; the target is under 60 s.

Usage: ``.venv/bin/python bench/rollback.py [--repeats 3] [--out bench/results/rollback.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import REPO, start_sandbox, stop_sandbox
from release_state import SEED_IMAGE, promote_bad_release, reset_release_state

from novacron_runbooks.release.gates import image_version
from sandbox.airflow import AirflowServer, start_standalone

BUDGET_SECONDS = 300.0
TARGET_SECONDS = 60.0
CRITICAL_PATH = (
    "validate_params",
    "acquire_lock",
    "find_release",
    "restore_traffic",
    "gate_recovered",
    "record_rollback",
)
GOOD_VERSION = image_version(SEED_IMAGE)
CONSECUTIVE_GOOD = 10


class TrafficProbe(threading.Thread):
    """Call the API every 100 ms; note when the last of ``CONSECUTIVE_GOOD`` good answers in a row began."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.recovered_at: float | None = None

    def run(self) -> None:
        streak_start, streak = None, 0
        while not self.stop.is_set() and self.recovered_at is None:
            at = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    good = resp.headers.get("X-Novacron-Version") == GOOD_VERSION
            except OSError:
                good = False
            streak, streak_start = (streak + 1, streak_start or at) if good else (0, None)
            if streak >= CONSECUTIVE_GOOD:
                self.recovered_at = streak_start
            time.sleep(0.1)


def _when(value: str | None) -> float:
    assert value, "task instance without a timestamp"
    return datetime.fromisoformat(value).timestamp()


def one_rollback(server: AirflowServer, probe_url: str, keep_old_colour: bool) -> dict[str, Any]:
    reset_release_state()
    promote_bad_release(keep_old_colour)
    probe = TrafficProbe(probe_url)
    triggered = time.time()
    status, run = server.request(
        "POST", "/api/v2/dags/rollback/dagRuns", {"logical_date": None, "conf": {"dry_run": False}}
    )
    if status != 200:
        raise RuntimeError(f"trigger failed: {status} {run}")
    probe.start()
    done = server.wait_for_run("rollback", run["dag_run_id"], timeout=600)
    probe.stop.set()
    if done["state"] != "success":
        raise RuntimeError(f"rollback run {run['dag_run_id']} ended {done['state']}")
    _, body = server.request(
        "GET", f"/api/v2/dags/rollback/dagRuns/{run['dag_run_id']}/taskInstances?limit=100"
    )
    tis = {ti["task_id"]: ti for ti in body["task_instances"]}
    work = sum(_when(tis[t]["end_date"]) - _when(tis[t]["start_date"]) for t in CRITICAL_PATH)
    gaps = _when(tis[CRITICAL_PATH[0]]["start_date"]) - triggered
    for before, after in zip(CRITICAL_PATH, CRITICAL_PATH[1:], strict=False):
        gaps += _when(tis[after]["start_date"]) - _when(tis[before]["end_date"])
    gate_green = _when(tis["gate_recovered"]["end_date"]) - triggered
    return {
        "path": "switch" if keep_old_colour else "redeploy",
        "traffic_back_seconds": round(probe.recovered_at - triggered, 2) if probe.recovered_at else None,
        "gate_green_seconds": round(gate_green, 2),
        "run_done_seconds": round(_when(tis["record_rollback"]["end_date"]) - triggered, 2),
        "runbook_work_seconds": round(work, 2),
        "airflow_overhead_seconds": round(gaps, 2),
        "gate_seconds": round(
            _when(tis["gate_recovered"]["end_date"]) - _when(tis["gate_recovered"]["start_date"]), 2
        ),
    }


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(s[key] for s in samples if s[key] is not None), 2)

    gate_green = median("gate_green_seconds")
    return {
        "runs": len(samples),
        "median_traffic_back_seconds": median("traffic_back_seconds"),
        "median_gate_green_seconds": gate_green,
        "median_runbook_work_seconds": median("runbook_work_seconds"),
        "median_airflow_overhead_seconds": median("airflow_overhead_seconds"),
        "median_gate_seconds": median("gate_seconds"),
        "baseline_seconds": BUDGET_SECONDS,
        "ratio_to_baseline": round(gate_green / BUDGET_SECONDS, 3),
        "target_seconds": TARGET_SECONDS,
        "within_target": gate_green < TARGET_SECONDS,
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rollback.json")
    args = parser.parse_args()
    layout = start_sandbox(offset=400)
    results: dict[str, Any] = {}
    try:
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        server = start_standalone(
            home, dags_folder=REPO / "dags", wait_for_dag="rollback", parallelism=args.parallelism
        )
        try:
            server.unpause("rollback")
            probe_url = f"{layout.url('standin')}/api/v1/health"
            for keep in (True, False):
                samples = []
                for _ in range(args.repeats):
                    samples.append(one_rollback(server, probe_url, keep))
                    print(json.dumps(samples[-1]), flush=True)
                results["switch" if keep else "redeploy"] = summarise(samples)
        finally:
            server.stop()
    finally:
        reset_release_state()
        stop_sandbox(layout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        json.dumps({k: {m: v for m, v in r.items() if m != "samples"} for k, r in results.items()}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
