"""How each benchmark's result file becomes rows of the summary table: figure, input, value, baseline, ratio.

One reader per result shape, kept beside the runner so a benchmark that changes its output changes its row
here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

Entry = dict[str, object]


def entry(figure: str, inp: object, value: object, baseline: object, ratio: object = None) -> Entry:
    if ratio is None and isinstance(value, int | float) and isinstance(baseline, int | float) and baseline:
        ratio = round(value / baseline, 3)
    return {"figure": figure, "input": inp, "value": value, "baseline": baseline, "ratio": ratio}


def _parse(r: dict[str, Any]) -> Iterable[Entry]:
    folder, base = r["dags_folder"], r["baseline_one_task_file"]
    yield entry(
        "parse the whole dags folder (s)",
        f"{folder['files']} files, {folder['dags']} DAGs",
        folder["median_seconds"],
        f"one-task file {base['median_seconds']} s",
        r["ratio_to_baseline"],
    )
    slowest = folder["slowest_files"][0]
    yield entry("slowest DAG file (s)", slowest["file"], slowest["median_seconds"], base["median_seconds"])
    if "each_file_fresh" in r:  # results from before the fresh-interpreter figure have no such row
        fresh, fresh_base = r["each_file_fresh"], r["fresh_baseline_one_task_file"]
        one = fresh_base["median_seconds"]
        worst = fresh["slowest_files"][0]
        yield entry(
            "DAG file alone, fresh interpreter: median (s)",
            f"{fresh['files']} files, {len(fresh['over_100_ms'])} over 0.1 s",
            fresh["median_seconds"],
            f"one-task file {one} s",
            round(fresh["median_seconds"] / one, 1) if one else None,
        )
        yield entry(
            "DAG file alone, fresh interpreter: slowest (s)", worst["file"], worst["median_seconds"], one
        )


def _gates(r: dict[str, Any]) -> Iterable[Entry]:
    verdict = r["fault_to_verdict"]
    yield entry(
        "fault → gate's failed verdict (s)",
        "1 gate",
        verdict["median_seconds"],
        verdict["baseline_seconds"],
        verdict["ratio_to_baseline"],
    )
    deferred, poke = r["fanout_deferred"], r["fanout_poke"]
    yield entry(
        "worker slots held while gates wait",
        f"{deferred['gates']} gates",
        deferred["steady_running_slots"],
        f"poke mode {poke['steady_running_slots']} (+{poke['steady_queued_or_scheduled']} queued)",
    )


def _gate_growth(r: dict[str, Any]) -> Iterable[Entry]:
    """Deferred gates at each size: the triggerer's cost and the time until every gate waits in it."""
    series = r.get("growth_deferred", [])
    smallest = series[0] if series else None
    for s in series:
        yield entry(
            "deferred gates: triggerer CPU (%)",
            f"{s['gates']} gates",
            s["triggerer_cpu_percent"],
            f"{smallest['triggerer_cpu_percent']} at {smallest['gates']} gates" if smallest else None,
            round(s["triggerer_cpu_percent"] / smallest["triggerer_cpu_percent"], 2)
            if smallest and smallest["triggerer_cpu_percent"]
            else None,
        )
        yield entry(
            "deferred gates: trigger to all deferred (s)",
            f"{s['gates']} gates",
            None if s["seconds_until_all_deferred"] is None else round(s["seconds_until_all_deferred"], 1),
            None,
        )


def _rollback(r: dict[str, Any]) -> Iterable[Entry]:
    for path, inp in (("switch", "old colour up"), ("redeploy", "old colour gone")):
        s = r[path]
        yield entry("rollback: trigger → recovery gate green (s)", inp, s["median_gate_green_seconds"], 300.0)
        yield entry(
            "rollback: trigger → users on the good release (s)", inp, s["median_traffic_back_seconds"], 300.0
        )


def _canary(r: dict[str, Any]) -> Iterable[Entry]:
    for s in r["configs"]:
        yield entry(
            "bad canary: first traffic → scaled away (s)",
            f"interval {s['interval_seconds']} s, limit {s['failure_limit']}",
            s["median_abort_after_first_traffic_seconds"],
            f"Flagger {s['baseline_flagger_seconds']} s",
            s["ratio_to_baseline"],
        )


def _alert_chain(r: dict[str, Any]) -> Iterable[Entry]:
    inp = f"for sped up {r['speedup']}x"
    yield entry(
        "fault → remediation verified, production `for` (s)",
        "HighErrorRate → rollback",
        r["production_for_estimate_seconds"],
        r["baseline_seconds"],
    )
    yield entry(
        "bridge: run created → run started (s)",
        inp,
        r["median_bridge_to_run_start_seconds"],
        r["bridge_target_seconds"],
    )
    for key in ("detection", "for", "alertmanager", "runbook_work"):
        yield entry(f"alert chain: {key.replace('_', ' ')} (s)", inp, r[f"median_{key}_seconds"], None)


def _backup(r: dict[str, Any]) -> Iterable[Entry]:
    for s in r["sizes"]:
        yield entry(
            "full backup through the DAG (s)",
            f"{s['database_mb']} MB",
            s["median_dag_seconds"],
            f"pgbackrest alone {s['median_direct_seconds']} s",
            s["overhead_ratio"],
        )


def _dr_drill(r: dict[str, Any]) -> Iterable[Entry]:
    for d in r["drills"]:
        yield entry(
            f"DR drill RTO (s): {d['dr_runbook']}", d["scenario"], d["rto_seconds"], d["rto_target_seconds"]
        )
        yield entry(
            f"DR drill RPO (s): {d['dr_runbook']}",
            "stateless"
            if d["acknowledged_rows"] is None
            else f"{d['lost_rows']} of {d['acknowledged_rows']} rows lost",
            d["rpo_seconds"],
            d["rpo_target_seconds"],
        )


def _concurrency(r: dict[str, Any]) -> Iterable[Entry]:
    """Each batch size: the median run's duration against its runbook alone, and the scheduler's delay."""
    for s in r["series"]:
        inp = f"{s['concurrent_runs']} runs, parallelism {r['parallelism']}"
        yield entry(
            "concurrent diagnostics runs: duration against alone (x)",
            inp,
            s["median_duration_ratio_to_solo"],
            1.0,
        )
        yield entry(
            "concurrent diagnostics runs: makespan (s)", inp, s["makespan_seconds"], s["solo_sum_seconds"]
        )
        yield entry(
            "concurrent diagnostics runs: queued → started (s)",
            inp,
            s["median_queued_to_start_seconds"],
            None,
        )


READERS: dict[str, Callable[[Any], Iterable[Entry]]] = {
    "parse": _parse,
    "gates": lambda r: [*_gates(r), *_gate_growth(r)],
    "rollback": _rollback,
    "canary": _canary,
    "alert_chain": _alert_chain,
    "backup": _backup,
    "dr_drill": _dr_drill,
    "concurrency": _concurrency,
}
"""Result file name (``bench/results/<name>.json``) → the reader of its rows."""
