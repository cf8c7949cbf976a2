"""The monthly DR drill end to end on ``airflow standalone``: measured RTO and RPO against the targets.

The benchmark starts its own sandbox (a drill target: the sandbox writes ``novacron_drill`` with
``drill_allowed: true``) and ``airflow standalone`` with a ``dr_drill`` user whose credentials become the
connection ``novacron_airflow_api`` (the drill answers the corruption runbook's approval as that user),
unpauses ``dr_drill`` and the DR runbooks it starts, and triggers the drill through the REST API for each
scenario in turn, as the monthly schedule would. It reads
what the drill measured from its run report (the ``measure`` steps' evidence): RTO from the fault to the DR
runbook's verified end, RPO as the acknowledged rows lost and the commit-time window they cover, the
catalog's targets, and the readiness score.

Goals: RPO at most 60 s where the recovery replays archived WAL, about 0 where it promotes the streaming
replica; RTO a small fraction of the target (1 h for a database failure, 3 h for data corruption, 15 min for
a service failure).

Usage: ``.venv/bin/python bench/dr_drill.py [--scenarios database_failure ...] [--out FILE]`` (every scenario
and ``bench/results/dr_drill.json`` by default)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import REPO, start_sandbox, stop_sandbox

from novacron_runbooks import connections
from novacron_runbooks.dagkit.report.store import safe_segment
from novacron_runbooks.drill.scenarios import DR_RUNBOOK
from sandbox.airflow import AirflowServer, start_standalone

OFFSET = 2700
DRILL_USER = "dr_drill"
RPO_GOAL_SECONDS = 60.0


def _drill_account(server: AirflowServer, home: Path) -> None:
    """Give the drill its API connection, as the ``dr_drill`` user SimpleAuthManager created at start."""
    password = json.loads((home / "passwords.json").read_text())[DRILL_USER]
    port = int(server.base_url.rsplit(":", 1)[1])
    body = {
        "connection_id": connections.AIRFLOW_API,
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": port,
        "login": DRILL_USER,
        "password": password,
    }
    status, reply = server.request("POST", "/api/v2/connections", body)
    if status not in (201, 409):
        raise RuntimeError(f"could not create {connections.AIRFLOW_API}: {status} {reply}")


def _report(home: Path, dag_id: str, run_id: str) -> dict[str, Any]:
    path = home / "runbook_reports" / safe_segment(dag_id) / safe_segment(run_id) / "report.json"
    return dict(json.loads(path.read_text()))


def one_drill(server: AirflowServer, home: Path, root: Path, scenario: str) -> dict[str, Any]:
    """Trigger one drill of ``scenario`` and return what its ``measure`` step recorded.

    The sandbox's folder (``root``) is shown as ``<sandbox>`` in the fault's description.
    """
    began = time.time()
    conf = {"dry_run": False, "scenarios": [scenario], "reason": "DR drill benchmark"}
    status, run = server.request(
        "POST", "/api/v2/dags/dr_drill/dagRuns", {"logical_date": None, "conf": conf}
    )
    if status != 200:
        raise RuntimeError(f"trigger failed: {status} {run}")
    done = server.wait_for_run("dr_drill", run["dag_run_id"], timeout=3600)
    report = _report(home, "dr_drill", run["dag_run_id"])
    steps = {s["task_id"]: s for s in report["steps"]}
    measured = steps[f"{scenario}.measure"]["evidence"] or {}
    values = {m["name"]: m for m in measured.get("measurements", [])}
    child = DR_RUNBOOK[scenario]
    rto, rpo = values.get(f"{child} RTO seconds", {}), values.get(f"{child} RPO seconds", {})
    loss = values.get(f"{child} acknowledged rows lost", {}).get("value", {})
    return {
        "scenario": scenario,
        "dr_runbook": child,
        "drill_state": done["state"],
        "child_outcome": values.get(f"{child} run outcome", {}).get("value"),
        "rto_seconds": rto.get("value"),
        "rto_target_seconds": rto.get("target"),
        "rto_share_of_target": round(rto["value"] / rto["target"], 4) if rto.get("target") else None,
        "rpo_seconds": rpo.get("value"),
        "rpo_target_seconds": rpo.get("target"),
        "rpo_goal_seconds": RPO_GOAL_SECONDS,
        "acknowledged_rows": loss.get("acknowledged"),
        "lost_rows": loss.get("lost"),
        "readiness": measured.get("metrics", {}).get(f"{child}_readiness"),
        "drill_wall_seconds": round(time.time() - began, 1),
        "fault": [
            {**change, "action": change["action"].replace(str(root), "<sandbox>")}
            for change in (steps[f"{scenario}.inject"]["evidence"] or {}).get("changes", [])
        ],
        "error": measured.get("error"),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | DR runbook | RTO | target | share | RPO (window lost) | rows lost | readiness |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = (
            "none (stateless)"
            if r["acknowledged_rows"] is None
            else f"{r['lost_rows']} of {r['acknowledged_rows']}"
        )
        lines.append(
            f"| {r['scenario']} | {r['dr_runbook']} ({r['child_outcome']}) | {r['rto_seconds']} s | "
            f"{r['rto_target_seconds']} s | {r['rto_share_of_target']} | {r['rpo_seconds']} s "
            f"(target {r['rpo_target_seconds']} s) | {rows} | "
            f"{r['readiness']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(DR_RUNBOOK))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dr_drill.json")
    parser.add_argument("--keep-home", action="store_true", help="keep Airflow's home (logs, run reports)")
    args = parser.parse_args()
    layout = start_sandbox(offset=OFFSET)
    results: list[dict[str, Any]] = []
    try:
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        users = {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{DRILL_USER}:op",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # only the drill and its runbooks run
        }
        server = start_standalone(
            home, dags_folder=REPO / "dags", wait_for_dag="dr_drill", parallelism=4, extra_env=users
        )
        try:
            _drill_account(server, home)
            server.unpause("dr_drill", *(DR_RUNBOOK[s] for s in args.scenarios))
            for scenario in args.scenarios:
                results.append(one_drill(server, home, layout.root, scenario))
                print(json.dumps(results[-1]), flush=True)
        finally:
            server.stop()
            if not args.keep_home and results and all(r["drill_state"] == "success" for r in results):
                shutil.rmtree(home, ignore_errors=True)
            else:  # kept for the logs and reports of what failed
                print(f"Airflow home kept: {home}", flush=True)
    finally:
        stop_sandbox(layout)
        shutil.rmtree(layout.root, ignore_errors=True)
    out = {"drills": results, "table": table(results)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(out["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
