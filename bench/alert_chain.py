"""From a fault switched on to the remediation verified: the whole alert chain, split into its links.

Each repetition promotes a bad release (``api:1.5.0-bad`` live on green: every answer a 5xx), then waits
while the real chain runs on ``airflow standalone``: Prometheus evaluates ``HighErrorRate``, Alertmanager
groups and delivers it to the bridge in Airflow's API server, the bridge starts ``high_error_rate``, which
confirms, diagnoses, rolls back through its ``rollback`` child run and passes its verification gate.

The clock is split where the chain hands over:

- detection: fault on → the rule's expression true (Prometheus ``activeAt``: scrape and rate window);
- ``for``: pending → firing (Prometheus holds the alert this long on purpose);
- Alertmanager: firing → the bridge's run created (evaluation tick, ``group_wait``, delivery, the bridge);
- bridge to run start: the run created (``queued_at``) → the scheduler starts it (target under 2 s);
- runbook work: the run's start → its verification gate green.

The rule is sped up (``python -m sandbox alert-timing``, default 20x: ``for`` 5m → 15s) so a repetition
takes minutes, not the production ``for``; the figures scale back by adding the production ``for``.
Baseline: the index's "immediate" response for a Critical incident, taken as the 15 minutes after which
the ladder escalates to the team lead.

Usage: ``.venv/bin/python bench/alert_chain.py [--repeats 2] [--out bench/results/alert_chain.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import REPO, start_sandbox, stop_sandbox
from release_state import promote_bad_release, reset_release_state, wait_service_healthy

from sandbox import alert_timing
from sandbox.airflow import AirflowServer, start_standalone

if TYPE_CHECKING:
    from sandbox.layout import Layout

OFFSET = 600
ALERT = "HighErrorRate"
RUNBOOK = "high_error_rate"
BASELINE_SECONDS = 15 * 60.0
BRIDGE_TARGET_SECONDS = 2.0


def _when(value: str | None) -> float:
    if not value:
        raise RuntimeError("a run or task without a timestamp")
    return datetime.fromisoformat(value).timestamp()


def _prometheus_alert(layout: Layout) -> dict[str, Any] | None:
    with urllib.request.urlopen(f"{layout.url('prometheus')}/api/v1/alerts", timeout=5) as response:
        alerts = json.load(response)["data"]["alerts"]
    return next((a for a in alerts if a["labels"].get("alertname") == ALERT), None)


def _new_run(server: AirflowServer, before: set[str]) -> dict[str, Any] | None:
    status, body = server.request("GET", f"/api/v2/dags/{RUNBOOK}/dagRuns?limit=100")
    if status != 200:
        return None
    return next((r for r in body["dag_runs"] if r["dag_run_id"] not in before), None)


def _watch(layout: Layout, server: AirflowServer, before: set[str], timeout: float) -> tuple[float, dict]:
    """Poll Prometheus (every 0.25 s) until the alert fires and the bridge's run exists; return both."""
    deadline = time.monotonic() + timeout
    fired_at: float | None = None
    while time.monotonic() < deadline:
        alert = _prometheus_alert(layout)
        if fired_at is None and alert and alert["state"] == "firing":
            fired_at = time.time()
        run = _new_run(server, before)
        if fired_at is not None and run is not None:
            return fired_at, run
        time.sleep(0.25)
    raise RuntimeError(f"{ALERT} did not start {RUNBOOK} within {timeout:.0f} s")


def one_chain(layout: Layout, server: AirflowServer) -> dict[str, Any]:
    reset_release_state(healthy=False)
    wait_service_healthy(240, window="15s")
    deadline = time.monotonic() + 120
    while _prometheus_alert(layout) is not None:  # the last repetition's alert must be gone first
        if time.monotonic() > deadline:
            raise RuntimeError(f"{ALERT} still active 120 s after the service recovered")
        time.sleep(1)
    status, body = server.request("GET", f"/api/v2/dags/{RUNBOOK}/dagRuns?limit=100")
    before = {r["dag_run_id"] for r in body["dag_runs"]} if status == 200 else set()
    fault_on = time.time()
    promote_bad_release(keep_old_colour=True)
    fired_at, run = _watch(layout, server, before, timeout=300)
    active_at = _when((_prometheus_alert(layout) or {}).get("activeAt"))
    run_id = run["dag_run_id"]
    done = server.wait_for_run(RUNBOOK, run_id, timeout=600)
    if done["state"] != "success":
        raise RuntimeError(f"{RUNBOOK}/{run_id} ended {done['state']}")
    path = f"/api/v2/dags/{RUNBOOK}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances?limit=100"
    tis = {ti["task_id"]: ti for ti in server.request("GET", path)[1]["task_instances"]}
    verified = _when(tis["gate_error_rate"]["end_date"])
    created, started = _when(done["queued_at"]), _when(done["start_date"])
    return {
        "run_id": run_id,
        "detection_seconds": round(active_at - fault_on, 2),
        "for_seconds": round(fired_at - active_at, 2),
        "alertmanager_seconds": round(created - fired_at, 2),
        "bridge_to_run_start_seconds": round(started - created, 2),
        "runbook_work_seconds": round(verified - started, 2),
        "fault_to_verified_seconds": round(verified - fault_on, 2),
    }


def summarise(samples: list[dict[str, Any]], speedup: int) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(s[key] for s in samples), 2)

    total = median("fault_to_verified_seconds")
    production_total = total - median("for_seconds") + median("for_seconds") * speedup
    return {
        "runs": len(samples),
        "speedup": speedup,
        **{f"median_{key}": median(key) for key in samples[0] if key != "run_id"},
        "production_for_estimate_seconds": round(production_total, 2),
        "baseline_seconds": BASELINE_SECONDS,
        "ratio_to_baseline": round(production_total / BASELINE_SECONDS, 3),
        "bridge_target_seconds": BRIDGE_TARGET_SECONDS,
        "bridge_within_target": median("bridge_to_run_start_seconds") < BRIDGE_TARGET_SECONDS,
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="at most 3: the bridge's breaker budget")
    parser.add_argument("--speedup", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "alert_chain.json")
    args = parser.parse_args()
    layout = start_sandbox(offset=OFFSET)
    samples: list[dict[str, Any]] = []
    try:
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        server = start_standalone(
            home,
            dags_folder=REPO / "dags",
            wait_for_dag=RUNBOOK,
            port=layout.port("airflow"),
            extra_env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"},
        )
        try:
            server.unpause(RUNBOOK, "rollback")
            alert_timing.apply(layout, {ALERT: args.speedup})
            for _ in range(min(args.repeats, 3)):
                samples.append(one_chain(layout, server))
                print(json.dumps(samples[-1]), flush=True)
        finally:
            server.stop()
    finally:
        reset_release_state(healthy=False)
        stop_sandbox(layout)
    result = summarise(samples, args.speedup)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
