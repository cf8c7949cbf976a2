"""Debug database issues: a read-only diagnostics report with findings and the runbook to run next.

::

    measure_symptoms ─┐
    inspect_database ─┼─> write_findings
    explain_top_statements ─┘

- ``measure_symptoms``: the API's database query p95 and pool usage over ``window_minutes`` (Prometheus).
- ``inspect_database``: sessions and the blocking tree, lock waits, connections against ``max_connections``,
  per-table scans, dead rows (bloat estimate), unused indexes, replication state and lag.
- ``explain_top_statements``: the generic plan of the ``top_queries`` heaviest ``pg_stat_statements`` entries
  (``PREPARE`` + ``EXPLAIN EXECUTE``; never ``EXPLAIN ANALYZE``, so a writing statement is never run).
- ``write_findings``: findings by severity, each with what to do, and the runbook to run next.

Every database read runs in a READ ONLY transaction with the catalog's statement timeout.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dbsessions import activity, explain, findings, remedy
from novacron_runbooks.dbsessions.health import read_alert_measures
from novacron_runbooks.diagnostics.findings import Finding, summarize
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.prometheus import PrometheusHook

RUNBOOK = catalog_runbook("debug_database")
TIMEOUT_SECONDS = float(RUNBOOK.threshold("statement_timeout").value)
REPLICATION_LAG_SECONDS = float(catalog_runbook("database_issues").threshold("replication_lag").value)
READERS = ("measure_symptoms", "inspect_database", "explain_top_statements")


with runbook_dag(RUNBOOK.name):

    @runbook_step(retries=1)
    def measure_symptoms(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Query p95 and pool usage over the window; an unanswered query is a finding, never a pass."""
        evidence = current_evidence()
        measures = read_alert_measures(PrometheusHook(), RUNBOOK, window=f"{params['window_minutes']}m")
        found = []
        for name, (value, over) in measures.items():
            evidence.measure(name, value, "fail" if over else ("pass" if value is not None else "unknown"))
            if value is None:
                found.append(Finding("warning", f"{name}: no data", "Prometheus gave no answer"))
            elif over:
                title = f"{name} = {value:.3g}"
                found.append(Finding("critical", title, "over the alert's threshold", "database_issues"))
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def inspect_database() -> list[dict[str, Any]]:
        """Read sessions, locks, connections, tables, indexes and replication in one read-only transaction."""
        evidence = current_evidence()
        with connect_primary() as conn, explain.read_only(conn, TIMEOUT_SECONDS):
            sessions = activity.read_sessions(conn)
            counts = findings.read_counts(conn)
            tables = findings.read_tables(conn)
            unused = findings.read_unused_indexes(conn)
            standbys = remedy.replication_lag(conn)
        evidence.measure("connections", counts, "pass")
        evidence.measure("replication", standbys, "pass" if standbys else "fail")
        tree = activity.render_tree(sessions)
        if tree:
            evidence.note("blocking tree:\n" + "\n".join(tree))
        evidence.note(
            "largest tables: "
            + "; ".join(
                f"{t['table']} {t['live']} rows, {t['seq_scan']} seq / {t['idx_scan']} idx"
                for t in tables[:5]
            )
        )
        found = findings.table_findings(tables) + findings.replication_findings(
            standbys, REPLICATION_LAG_SECONDS
        )
        if counts["lock_waits"]:
            waits = f"{counts['lock_waits']} lock wait(s)"
            found.append(Finding("critical", waits, "see the blocking tree", "database_issues"))
        if (
            counts["max_connections"]
            and counts["connections"] > findings.CONNECTION_SHARE * counts["max_connections"]
        ):
            used = f"{counts['connections']} of {counts['max_connections']}"
            found.append(Finding("warning", "connections near max_connections", used))
        for index in unused:
            where = f"never scanned, {index['bytes']} bytes on {index['table']}"
            found.append(Finding("info", f"unused index {index['index']}", where))
        return [f.to_dict() for f in found]

    @runbook_step(retries=1)
    def explain_top_statements(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Plan the heaviest statements; one that cannot be planned is reported, not fatal."""
        evidence = current_evidence()
        found = []
        with connect_primary() as conn, explain.read_only(conn, TIMEOUT_SECONDS):
            plans = [
                explain.explain(conn, row) for row in explain.top_statements(conn, params["top_queries"])
            ]
        for plan in plans:
            head = f"{plan.mean_ms} ms mean × {plan.calls}: {plan.query[:120]}"
            if plan.error:
                evidence.measure(f"plan {plan.queryid}", f"{head} — not planned: {plan.error}", "unknown")
                continue
            evidence.note(f"plan of {head}\n" + "\n".join(plan.plan))
            for scan in plan.seq_scans:
                found.append(Finding("info", f"sequential scan in a top statement: {scan}", head))
        evidence.measure("statements explained", sum(1 for p in plans if not p.error), "pass")
        return [f.to_dict() for f in found]

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE)
    def write_findings() -> dict[str, Any]:
        """Order the findings by severity and name the runbook to run next (whatever part failed)."""
        return summarize(READERS)

    [measure_symptoms(), inspect_database(), explain_top_statements()] >> write_findings()
