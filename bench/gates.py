"""Benchmarks of the metric gates (figures for the closing note; never run by the test suite).

1. Fault to verdict: seconds from an error fault switched on in the stand-in to the gate's failed verdict,
   against the theoretical minimum measured in the same run's configuration (scrape interval + gate interval).
2. N gates waiting at once on a real ``airflow standalone``: worker slots held, triggerer CPU and memory,
   deferred against the same N in poke mode.

3. How the deferred gates' cost grows with N (``--gates 50,100,200``: each size deferred; poke mode, the
   baseline, at the largest).

Usage: ``.venv/bin/python bench/gates.py [--gates 50,100,200] [--repeats 3] [--out bench/results/gates.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import REPO, start_sandbox, stop_sandbox

from sandbox.airflow import AirflowServer, start_standalone
from sandbox.faults import set_fault

if TYPE_CHECKING:
    from sandbox.layout import Layout

SCRAPE_INTERVAL = 2.0  # include/sandbox/prometheus.yml
GATE_INTERVAL = 2.0


async def fault_to_verdict(layout: Layout) -> float:
    """Start a gate on a healthy service, switch the fault on, return seconds until the failed verdict."""
    from novacron_runbooks.gates.spec import Condition, GateSpec
    from novacron_runbooks.hooks.prometheus import PrometheusHook
    from novacron_runbooks.triggers.prometheus import PrometheusGateTrigger

    query = (
        '(sum(rate(http_requests_total{service="novacron-api",code=~"5.."}[10s])) or vector(0))'
        ' / sum(rate(http_requests_total{service="novacron-api"}[10s]))'
    )
    set_fault(layout, {"clear": True})
    hook = PrometheusHook()
    while not (values := hook.query(query).values) or values[0] > 0.01:
        await asyncio.sleep(1)
    spec = GateSpec(
        name="fault",
        query=query,
        success=Condition("<", 0.01),
        failure=Condition(">", 0.05),
        interval_seconds=GATE_INTERVAL,
        count=500,
        inconclusive_limit=500,
    )

    async def first_event() -> dict[str, Any]:
        async for event in PrometheusGateTrigger(spec.to_dict()).run():
            return dict(event.payload)
        raise RuntimeError("no event")

    gate = asyncio.create_task(first_event())
    await asyncio.sleep(6)
    switched = time.monotonic()
    set_fault(layout, {"error_rate": 0.5})
    payload = await gate
    elapsed = time.monotonic() - switched
    set_fault(layout, {"clear": True})
    if payload["phase"] != "failed":
        raise RuntimeError(f"expected a failed verdict, got {payload['phase']}")
    return elapsed


def _proc_stats(pattern: str) -> tuple[float, float]:
    """CPU seconds and RSS MiB of the processes whose command line contains ``pattern``."""
    cpu, rss = 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if pattern not in cmd:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


def _states(server: AirflowServer, dag_id: str, run_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    offset = 0
    while True:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100&offset={offset}"
        _, body = server.request("GET", path)
        items = body.get("task_instances", [])
        for ti in items:
            counts[str(ti["state"])] = counts.get(str(ti["state"]), 0) + 1
        offset += len(items)
        if not items or offset >= body.get("total_entries", 0):
            return counts


def fanout(server: AirflowServer, mode: str, gates: int, observe_seconds: float) -> dict[str, Any]:
    """Trigger N gates and sample slot use and the triggerer's cost while they wait."""
    dag_id = f"gate_fanout_{mode}"
    run_id = f"bench_{mode}_{int(time.time())}"
    body = {"logical_date": None, "dag_run_id": run_id, "conf": {"gates": gates}}
    server.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
    started = time.monotonic()
    cpu0, _ = _proc_stats("airflow triggerer")
    samples: list[dict[str, int]] = []
    time_all_waiting = None
    while time.monotonic() - started < observe_seconds:
        counts = _states(server, dag_id, run_id)
        samples.append(counts)
        waiting = counts.get("deferred", 0) if mode == "deferred" else counts.get("running", 0)
        if time_all_waiting is None and mode == "deferred" and waiting >= gates:
            time_all_waiting = time.monotonic() - started
        time.sleep(3)
    cpu1, rss = _proc_stats("airflow triggerer")
    server.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})
    steady = samples[len(samples) // 2 :]
    return {
        "mode": mode,
        "gates": gates,
        "max_running_slots": max(s.get("running", 0) for s in samples),
        "steady_running_slots": statistics.median(s.get("running", 0) for s in steady),
        "steady_deferred": statistics.median(s.get("deferred", 0) for s in steady),
        "steady_queued_or_scheduled": statistics.median(
            s.get("queued", 0) + s.get("scheduled", 0) + s.get("up_for_reschedule", 0) for s in steady
        ),
        "seconds_until_all_deferred": time_all_waiting,
        "triggerer_cpu_seconds": round(cpu1 - cpu0, 2),
        "triggerer_cpu_percent": round(100 * (cpu1 - cpu0) / observe_seconds, 1),
        "triggerer_rss_mib": round(rss, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", default="50,100,200", help="fan-out sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--observe", type=float, default=180.0, help="seconds to watch each fan-out")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gates.json")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.gates.split(","))
    layout = start_sandbox(offset=300)
    results: dict[str, Any] = {}
    try:
        latencies = [asyncio.run(fault_to_verdict(layout)) for _ in range(args.repeats)]
        minimum = SCRAPE_INTERVAL + GATE_INTERVAL
        results["fault_to_verdict"] = {
            "seconds": [round(v, 2) for v in latencies],
            "median_seconds": round(statistics.median(latencies), 2),
            "baseline_seconds": minimum,
            "ratio_to_baseline": round(statistics.median(latencies) / minimum, 2),
        }
        print(json.dumps(results["fault_to_verdict"]), flush=True)
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        os.environ["NOVACRON_BENCH_GATES"] = str(sizes[-1])
        server = start_standalone(
            home,
            dags_folder=REPO / "bench" / "dags",
            wait_for_dag="gate_fanout_deferred",
            parallelism=args.parallelism,
            extra_env={"AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(sizes[-1])},
        )
        try:
            results["growth_deferred"] = []
            for size in sizes:
                results["growth_deferred"].append(fanout(server, "deferred", size, args.observe))
                print(json.dumps(results["growth_deferred"][-1]), flush=True)
            results["fanout_deferred"] = results["growth_deferred"][-1]
            results["fanout_poke"] = fanout(server, "poke", sizes[-1], args.observe)
            print(json.dumps(results["fanout_poke"]), flush=True)
        finally:
            server.stop()
    finally:
        stop_sandbox(layout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
