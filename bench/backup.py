"""Backup through the ``backup`` DAG against ``pgbackrest backup`` run directly, on the same database.

At each database size (grown with generated rows in a ballast table the benchmark owns), the benchmark takes
full backups in turns: one by ``pgbackrest backup`` run directly (the same argv, configuration and OS user
as the runbook, expiry held off as the runbook holds it), one by triggering ``backup`` through the REST API
of ``airflow standalone`` as a person or CI would (``dry_run`` false, ``backup_type`` full). The DAG's time
runs from the trigger to the run's end: preflight (``pgbackrest check``, the database state with per-table
checksums), the backup, its annotation and metrics, ``pgbackrest verify`` and retention, plus Airflow's
scheduling between tasks. The overhead ratio is the median DAG time over the median direct time; the target
is at most 1.10. Beside it: the direct command with the ``check`` before and ``verify`` after that the
runbook adds (that ratio is what Airflow and the runbook's bookkeeping cost over the same pgBackRest work),
the ``take_backup`` task's own time, and the sum of every task's own time (the rest of the DAG's time is
Airflow's: scheduling, queueing and starting each task's process).

Usage: ``.venv/bin/python bench/backup.py [--sizes-mb 100 1000] [--repeats 2] [--out FILE]``
(results in ``bench/results/backup.json`` by default)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import REPO, start_sandbox, stop_sandbox

from novacron_runbooks.backup.dag import HOLD_EXPIRY
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from sandbox.airflow import AirflowServer, start_standalone

TARGET_RATIO = 1.10
OFFSET = 2700
BATCH_ROWS = 200_000
CREATE_BALLAST = "CREATE TABLE IF NOT EXISTS bench_ballast (id bigint PRIMARY KEY, payload text NOT NULL)"
"""A table only this benchmark writes; 4 md5 strings a row (about 190 bytes on disk) so lz4 has work to do."""
NEXT_ID = "SELECT coalesce(max(id), 0) + 1 FROM bench_ballast"
INSERT_BATCH = (
    "INSERT INTO bench_ballast SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text)"
    " || md5((g * 31)::text) FROM generate_series(%s::bigint, %s::bigint) g"
)


def database_mb() -> float:
    with connect_primary() as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return float(row[0]) / 1e6


def grow_to(target_mb: float) -> float:
    """Insert ballast rows in batches until the database holds ``target_mb``; return its size."""
    with connect_primary() as conn:
        conn.execute(CREATE_BALLAST)
        conn.execute("SET statement_timeout = 0")
        while (size := database_mb()) < target_mb:
            row = conn.execute(NEXT_ID).fetchone()
            first = int(row[0]) if row else 1
            conn.execute(INSERT_BATCH, (first, first + BATCH_ROWS - 1))
        conn.execute("CHECKPOINT")
    return size


def direct_backup() -> dict[str, float]:
    """Time ``pgbackrest backup --type=full`` run directly, as the runbook runs it; then, apart, the same
    ``check`` before and ``verify`` after that the runbook adds (the DAG's work without Airflow)."""
    hook = PgBackRestHook()
    began = time.monotonic()
    hook.run("check", timeout=600)
    checked = time.monotonic()
    hook.run("backup", "--type=full", HOLD_EXPIRY, "--annotation=bench=direct", timeout=3600)
    backed_up = time.monotonic()
    hook.run("verify", "--output=text", "--verbose", timeout=3600)
    verified = time.monotonic()
    return {"direct_seconds": backed_up - checked, "direct_with_checks_seconds": verified - began}


def _when(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def dag_backup(server: AirflowServer) -> dict[str, float]:
    """Trigger ``backup`` (full, not a dry run) and time it from the trigger to the run's end."""
    triggered = time.time()
    conf = {"dry_run": False, "backup_type": "full", "reason": "backup benchmark"}
    status, run = server.request("POST", "/api/v2/dags/backup/dagRuns", {"logical_date": None, "conf": conf})
    if status != 200:
        raise RuntimeError(f"trigger failed: {status} {run}")
    done = server.wait_for_run("backup", run["dag_run_id"], timeout=3600)
    if done["state"] != "success":
        raise RuntimeError(f"backup run {run['dag_run_id']} ended {done['state']}")
    path = f"/api/v2/dags/backup/dagRuns/{run['dag_run_id']}/taskInstances?limit=100"
    tis = {ti["task_id"]: ti for ti in server.request("GET", path)[1]["task_instances"]}
    take = tis["take_backup"]
    spans = [(_when(ti["start_date"]), _when(ti["end_date"])) for ti in tis.values() if ti.get("end_date")]
    return {
        "dag_seconds": _when(done["end_date"]) - triggered,
        "task_work_seconds": sum(end - start for start, end in spans),
        "take_backup_seconds": _when(take["end_date"]) - _when(take["start_date"]),
        "verify_seconds": _when(tis["verify_backup"]["end_date"]) - _when(tis["verify_backup"]["start_date"]),
        "preflight_seconds": _when(tis["preflight"]["end_date"]) - _when(tis["preflight"]["start_date"]),
    }


def one_size(server: AirflowServer, target_mb: float, repeats: int) -> dict[str, Any]:
    began = time.monotonic()
    size = grow_to(target_mb)
    grow_seconds = time.monotonic() - began
    print(f"database at {size:.0f} MB after {grow_seconds:.0f} s of inserts", flush=True)
    direct, dag = [], []
    for _ in range(repeats):
        direct.append(direct_backup())
        dag.append(dag_backup(server))
        print(json.dumps({"size_mb": round(size), **direct[-1], **dag[-1]}), flush=True)
    median_direct = statistics.median(d["direct_seconds"] for d in direct)
    median_checked = statistics.median(d["direct_with_checks_seconds"] for d in direct)
    median_dag = statistics.median(d["dag_seconds"] for d in dag)
    median_take = statistics.median(d["take_backup_seconds"] for d in dag)
    return {
        "database_mb": round(size, 1),
        "runs": repeats,
        "median_direct_seconds": round(median_direct, 2),
        "median_direct_with_checks_seconds": round(median_checked, 2),
        "median_dag_seconds": round(median_dag, 2),
        "median_take_backup_task_seconds": round(median_take, 2),
        "median_task_work_seconds": round(statistics.median(d["task_work_seconds"] for d in dag), 2),
        "overhead_ratio": round(median_dag / median_direct, 3),
        "take_backup_task_ratio": round(median_take / median_direct, 3),
        "ratio_to_direct_with_checks": round(median_dag / median_checked, 3),
        "target_ratio": TARGET_RATIO,
        "within_target": median_dag / median_direct <= TARGET_RATIO,
        "samples": [
            {k: round(v, 2) for k, v in {**d, **s}.items()} for d, s in zip(direct, dag, strict=True)
        ],
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "| database | direct backup | + check, verify | backup DAG | ratio | ratio to + checks "
        "| take_backup task | tasks' own work |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["sizes"]:
        lines.append(
            f"| {r['database_mb']:.0f} MB | {r['median_direct_seconds']} s | "
            f"{r['median_direct_with_checks_seconds']} s | {r['median_dag_seconds']} s | "
            f"{r['overhead_ratio']} (target <= {TARGET_RATIO}) | {r['ratio_to_direct_with_checks']} | "
            f"{r['median_take_backup_task_seconds']} s | {r['median_task_work_seconds']} s |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[100.0, 1000.0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "backup.json")
    args = parser.parse_args()
    layout = start_sandbox(offset=OFFSET)
    results: dict[str, Any] = {"sizes": []}
    try:
        home = Path(tempfile.mkdtemp(prefix="novacron-bench-airflow-"))
        # paused at creation: unpaused, the scheduled jobs (backups, validation, the drill) would run beside
        # the measurement and hold the database lock
        paused = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
        server = start_standalone(
            home,
            dags_folder=REPO / "dags",
            wait_for_dag="backup",
            parallelism=args.parallelism,
            extra_env=paused,
        )
        try:
            server.unpause("backup")
            for size in sorted(args.sizes_mb):
                results["sizes"].append(one_size(server, size, args.repeats))
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
    finally:
        stop_sandbox(layout)
        shutil.rmtree(layout.root, ignore_errors=True)
    results["table"] = table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(results["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
