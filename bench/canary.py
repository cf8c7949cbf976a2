"""Canary of a bad release on ``airflow standalone``: time to abort, against Flagger's interval × threshold.

Flagger runs one check per ``analysis.interval`` and rolls back after ``threshold`` failed checks, so with the
same interval a bad canary lives at least ``interval × threshold`` after its first traffic. The canary runbook
spreads ``failure_limit + 1`` measurements over one step's interval instead. For each setting the benchmark
triggers ``canary`` with ``api:2.0.0-bad`` through the REST API and measures, from the moment the canary's
first pod is ready (its first traffic) to the failed measurement (the verdict, comparable with Flagger's
figure) and to the canary having no ready pod again (the verdict plus Airflow resuming the task).

Usage: ``.venv/bin/python bench/canary.py [--repeats 2] [--out bench/results/canary.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import REPO, start_sandbox, stop_sandbox
from release_state import reset_release_state

from novacron_runbooks.release.cluster import CANARY, ReleaseCluster
from sandbox.airflow import AirflowServer, start_standalone

BAD_IMAGE = "registry.novacron.io/novacron/api:2.0.0-bad"
SETTINGS = ({"interval_seconds": 12, "failure_limit": 0}, {"interval_seconds": 30, "failure_limit": 2})


class CanaryWatch(threading.Thread):
    """Note when the canary first has a ready pod (traffic) and when it has none again."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.first_ready: float | None = None
        self.gone: float | None = None

    def run(self) -> None:
        cluster = ReleaseCluster()
        while not self.stop.is_set():
            canary = cluster.workload(CANARY)
            now = time.time()
            if canary is not None and canary.ready > 0 and self.first_ready is None:
                self.first_ready = now
            if self.first_ready is not None and (canary is None or canary.ready == 0):
                self.gone = now
                return
            time.sleep(0.2)


def _failed_verdict_at(server: AirflowServer, run_id: str) -> float | None:
    """When the step's analysis measured the failure that decided it: the last failed measurement.

    With ``failure_limit`` k the step fails on its (k+1)-th failed measurement, the last one recorded.
    """
    status, report = server.request("GET", f"/novacron/reports/canary/{run_id}/report.json")
    if status != 200:
        return None
    step = next((s for s in report["steps"] if s["task_id"] == "canary_steps"), {})
    failed = [
        datetime.fromisoformat(m["at"]).timestamp()
        for m in (step.get("evidence") or {}).get("measurements", [])
        if m.get("verdict") == "failure"
    ]
    return max(failed) if failed else None


def one_canary(server: AirflowServer, setting: dict[str, int]) -> dict[str, Any]:
    reset_release_state()
    analysis = {
        "max_error_rate_delta": 0.005,
        "max_latency_p95_ratio": 1.25,
        "min_requests": 10,
        "on_no_data": "fail",
        "failure_limit": setting["failure_limit"],
    }
    conf = {
        "image": BAD_IMAGE,
        "steps": [25, 50, 100],
        "interval_seconds": setting["interval_seconds"],
        "analysis": analysis,
        "dry_run": False,
    }
    watch = CanaryWatch()
    watch.start()
    triggered = time.time()
    status, run = server.request("POST", "/api/v2/dags/canary/dagRuns", {"logical_date": None, "conf": conf})
    if status != 200:
        raise RuntimeError(f"trigger failed: {status} {run}")
    done = server.wait_for_run("canary", run["dag_run_id"], timeout=900)
    watch.join(timeout=30)
    watch.stop.set()
    if watch.first_ready is None or watch.gone is None:
        raise RuntimeError(f"canary run {run['dag_run_id']} ({done['state']}): never ready or never removed")
    threshold = setting["failure_limit"] + 1
    verdict_at = _failed_verdict_at(server, run["dag_run_id"])
    return {
        **setting,
        "run_state": done["state"],
        "verdict_after_first_traffic_seconds": round(verdict_at - watch.first_ready, 2)
        if verdict_at
        else None,
        "abort_after_first_traffic_seconds": round(watch.gone - watch.first_ready, 2),
        "abort_after_trigger_seconds": round(watch.gone - triggered, 2),
        "flagger_interval_x_threshold_seconds": setting["interval_seconds"] * threshold,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "canary.json")
    args = parser.parse_args()
    layout = start_sandbox(offset=500)
    results: list[dict[str, Any]] = []
    try:
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        server = start_standalone(
            home, dags_folder=REPO / "dags", wait_for_dag="canary", parallelism=args.parallelism
        )
        try:
            server.unpause("canary")
            for setting in SETTINGS:
                samples = [one_canary(server, setting) for _ in range(args.repeats)]
                for sample in samples:
                    print(json.dumps(sample), flush=True)
                abort = statistics.median(s["abort_after_first_traffic_seconds"] for s in samples)
                verdicts = [s["verdict_after_first_traffic_seconds"] for s in samples]
                verdict = statistics.median(v for v in verdicts if v is not None) if any(verdicts) else None
                flagger = samples[0]["flagger_interval_x_threshold_seconds"]
                results.append(
                    {
                        **setting,
                        "median_verdict_after_first_traffic_seconds": verdict and round(verdict, 2),
                        "median_abort_after_first_traffic_seconds": round(abort, 2),
                        "median_abort_after_trigger_seconds": round(
                            statistics.median(s["abort_after_trigger_seconds"] for s in samples), 2
                        ),
                        "baseline_flagger_seconds": flagger,
                        "ratio_to_baseline": round(abort / flagger, 2),
                        "samples": samples,
                    }
                )
        finally:
            server.stop()
    finally:
        reset_release_state()
        stop_sandbox(layout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"configs": results}, indent=2) + "\n")
    print(json.dumps([{k: v for k, v in r.items() if k != "samples"} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
