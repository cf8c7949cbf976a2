"""Data corruption: detect, restore side by side to before it, show what differs, repair rows or cut over.

::

    detect >> find_corruption_time >> prepare_scratch >> restore_side_by_side >> compare_copy
        >> decide (default Abort)
             ├─ Repair rows → repair_rows        (the copy's rows back into live, one transaction)
             ├─ Cut over    → cut_over >> rebuild_replica        (restore in place, writes stopped)
             └─ Abort       → aborted                              (production untouched)
        teardown_scratch (however the run ended)

- ``detect``: pg_amcheck on the live primary (run on its host as the database's OS user), the data checksum
  failures PostgreSQL counted, and the application's invariants (``app_invariant_violations``); the tables
  they implicate join the ``tables`` param.
- ``find_corruption_time``: the ``corruption_time`` param, checked against the recoverability window. Without
  it the run stops before restoring and says why: PostgreSQL records no time for a bad UPDATE or DELETE
  (commit timestamps are off), so it lists the newest audit-trail entries of the affected tables for a
  person to pick the moment from. The restore stops just before the first commit at that moment.
- ``restore_side_by_side``: the scratch instance restored to that moment; production untouched.
- ``compare_copy``: row counts of every compared table, rows lost, changed and added since by primary key,
  and a sample; the approval's body shows them.
- ``repair_rows``: the lost and changed rows written back from the copy in one transaction, affected tables
  only, parents first; re-compared after (a rerun finds nothing to repair). Rows added since are kept.
- ``cut_over``: safety backup, application writes stopped, the copy's point restored into the primary, the
  primary verified, writes resumed; ``rebuild_replica`` follows the new timeline.

RTO is measured from the run's start to the verified repair or cut-over (the decision time included); RPO
is the gap between the recovery point and the newest archived point (for a repair it concerns only the
repaired rows: everything else stays as it is).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import TriggerRule, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.database import application
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.operators.hitl import RecordedHITLBranchOperator
from novacron_runbooks.recovery import checks, diff, pitr, production, steps
from novacron_runbooks.recovery.pitr import RecoveryPoint
from novacron_runbooks.recovery.window import Window, fmt, parse_target_time
from novacron_runbooks.release.cluster import ReleaseCluster

RUNBOOK = catalog_runbook("dr_data_corruption")
APPROVAL_TIMEOUT = timedelta(minutes=RUNBOOK.threshold("approval_timeout").value)
REPAIR, CUT_OVER, ABORT = "Repair rows", "Cut over", "Abort"
AUDIT_HINTS = """
SELECT occurred_at, actor, action, entity, entity_id FROM audit_log
WHERE entity = ANY(%s) ORDER BY occurred_at DESC LIMIT 5
"""
ENTITIES = {"public.hosts": "host", "public.vms": "vm", "public.migrations": "migration"}


def _run_key() -> str:
    dag_run = get_current_context()["dag_run"]
    return f"{dag_run.dag_id}/{dag_run.run_id}"


def _since_run_start() -> float:
    return round((datetime.now(tz=UTC) - get_current_context()["dag_run"].run_after).total_seconds(), 2)


def _audit_hints(tables: list[str]) -> str:
    entities = [ENTITIES[t] for t in tables if t in ENTITIES] or list(ENTITIES.values())
    with connect_primary() as conn:
        if conn.execute("SELECT to_regclass('public.audit_log')").fetchone() in (None, (None,)):
            return "no audit trail"
        rows = conn.execute(AUDIT_HINTS, (entities,)).fetchall()
    return "; ".join(f"{r[0].isoformat()} {r[1]} {r[2]} {r[3]} {r[4]}" for r in rows) or "no entries"


def _tables(params: dict[str, Any], findings: dict[str, Any]) -> list[diff.Table]:
    with connect_primary() as conn:
        known = diff.user_tables(conn)
    wanted = sorted(set(params["tables"]) | set(findings["tables"]))
    try:
        return diff.resolve(known, wanted) if wanted else list(known.values())
    except KeyError as exc:
        raise ParamError("tables", f"{exc.args[0]} is not a table of the database") from None


with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def detect(params: dict[str, Any]) -> dict[str, Any]:
        """Run pg_amcheck, read checksum failures and the invariants on the live primary; nothing changes."""
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        primary = nodes.primary()
        if primary is None:
            raise AirflowFailException("no node accepts writes: use dr_database_failure first")
        found = checks.Findings()
        found.amcheck_ok, found.amcheck = checks.amcheck_live(nodes, primary, steps.DATABASE)
        evidence.measure(
            "pg_amcheck on the primary",
            found.amcheck or "no corruption",
            "pass" if found.amcheck_ok else "fail",
        )
        with connect_primary() as conn:
            found.checksums_enabled, found.checksum_failures = checks.checksums(conn)
            found.invariants = checks.invariants(conn)
        evidence.measure(
            "data checksums",
            {"enabled": found.checksums_enabled, "failures": found.checksum_failures},
            "pass" if found.checksum_failures == 0 else "fail",
        )
        for name, count in found.invariants.items():
            evidence.measure(f"invariant {name}", count, "pass" if count == 0 else "fail")
        found.tables = checks.implicated(found.invariants)
        evidence.note(
            f"damage detected: {found.damaged}; implicated tables: {found.tables or 'none'}; "
            f"named in params: {params['tables'] or 'none'}"
        )
        return found.to_json()

    @runbook_step(retries=1)
    def find_corruption_time(findings: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Take the corruption time (or say why it cannot be found) and check it against the window."""
        moment = parse_target_time(params["corruption_time"], "corruption_time")
        if moment is None:
            hints = _audit_hints([t.qualified for t in _tables(params, findings)])
            raise ParamError(
                "corruption_time",
                "not given, and PostgreSQL keeps no time for a bad UPDATE or DELETE (commit timestamps "
                f"are off); newest audit-trail entries of the affected tables: {hints}. Run again with the "
                "moment the damage began",
            )
        try:
            plan = steps.plan_point("", moment, inclusive=False)
        except ParamError as exc:
            raise ParamError("corruption_time", str(exc).split(": ", 1)[-1]) from None
        tables = [t.qualified for t in _tables(params, findings)]
        current_evidence().note(f"restoring to just before {fmt(moment)}; comparing {', '.join(tables)}")
        return {**plan, "tables": tables}

    @runbook_step
    def prepare_scratch(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Remove a scratch copy left behind (only one this code created)."""
        steps.prepare(params["dry_run"], f"restore {plan['summary']} side by side")

    @runbook_step
    def restore_side_by_side(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Restore the moment before the damage into scratch; production untouched."""
        if params["dry_run"]:
            raise AirflowSkipException("dry run: detection and the window check done, nothing restored")
        return steps.restore(plan)

    @runbook_step(retries=1)
    def compare_copy(plan: dict[str, Any], restored: dict[str, Any]) -> dict[str, Any]:
        """Compare the copy with live: counts, rows lost, changed and added since, a sample."""
        evidence = current_evidence()
        with connect_primary() as live, steps.scratch().connect(steps.DATABASE) as copy:
            tables = diff.resolve(diff.user_tables(live), plan["tables"])
            found = diff.compare(live, copy, tables)
        for d in found:
            value = {
                "live": d.live_rows,
                "copy": d.copy_rows,
                "lost": len(d.lost),
                "changed": len(d.changed),
                "added": len(d.added),
            }
            evidence.measure(f"diff {d.table}", value, "fail" if d.repairable else "pass")
        affected = [d.table for d in found if d.repairable]
        evidence.note(f"affected tables: {', '.join(affected) or 'none'}")
        return {
            "diffs": [d.to_json() for d in found],
            "affected": affected,
            "markdown": diff.summary_markdown(found),
        }

    decide = RecordedHITLBranchOperator(
        task_id="decide",
        subject="Data corruption: repair {{ ti.xcom_pull(task_ids='compare_copy')['affected'] | join(', ') }}"
        " from the copy, cut over, or abort?",
        body=(
            "Live compared with a copy restored to "
            "{{ ti.xcom_pull(task_ids='find_corruption_time')['summary'] }}.\n\n"
            "{{ ti.xcom_pull(task_ids='compare_copy')['markdown'] }}\n\n"
            "**Repair rows** writes the copy's version of every lost or changed row back (one transaction, "
            "these tables only); rows added since are kept. **Cut over** replaces the whole database with "
            "the copy's point: writes stop meanwhile and everything written since is lost (a safety "
            f"backup keeps it). Without an answer within {APPROVAL_TIMEOUT} nothing changes."
        ),
        options=[REPAIR, CUT_OVER, ABORT],
        defaults=[ABORT],
        options_mapping={REPAIR: "repair_rows", CUT_OVER: "cut_over", ABORT: "aborted"},
        response_timeout=APPROVAL_TIMEOUT,
        retries=0,
    )

    @runbook_step
    def aborted() -> None:
        """Record that production was left as it is (the report's outcome: rejected, the damage remains)."""
        current_evidence().note("aborted (or no answer in time): production untouched, the damage remains")

    @runbook_step(retries=1)
    def repair_rows(
        plan: dict[str, Any], compared: dict[str, Any], restored: dict[str, Any]
    ) -> dict[str, Any]:
        """Write the copy's lost and changed rows back into live in one transaction, then re-compare."""
        evidence = current_evidence()
        with connect_primary() as live, steps.scratch().connect(steps.DATABASE) as copy:
            tables = diff.resolve(diff.user_tables(live), compared["affected"])
            fresh = diff.compare(live, copy, tables)  # a retry repairs only what is still different
            written = diff.repair(live, copy, tables, fresh)
            after = diff.compare(live, copy, tables)
        for table, rows in written.items():
            evidence.change(table, f"{rows} row(s) written back from the copy", applied=True)
        left = {d.table: len(d.lost) + len(d.changed) for d in after if d.repairable}
        evidence.measure("rows still different after the repair", left or 0, "fail" if left else "pass")
        if left:
            raise AirflowFailException(f"repair left rows different: {left}")
        point = RecoveryPoint.from_json(plan["point"])
        rpo = pitr.rpo_seconds(point, Window.from_json(restored["window"]))
        evidence.metric("rto_seconds", _since_run_start())
        evidence.metric("rpo_seconds", rpo)
        evidence.note(f"RPO {rpo} s concerns the repaired rows only; rows added since were kept")
        return {"written": written}

    @runbook_step(retries=1)  # each part is idempotent: the run's safety backup, recorded counts, --delta
    def cut_over(plan: dict[str, Any]) -> dict[str, Any]:
        """Safety backup, writes stopped, the copy's point restored into the primary, verified, resumed."""
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        primary = nodes.primary()
        if primary is None:
            raise AirflowFailException("no node accepts writes: nothing to cut over")
        production.safety_backup(_run_key())
        cluster = ReleaseCluster()
        replicas = application.stop_writes(cluster)
        evidence.change("application", f"writes stopped: {replicas} scaled to 0", applied=True)
        began = time.time()
        point = RecoveryPoint.from_json(plan["point"])
        with connect_primary() as conn:  # what was written until writes stopped: the data given up
            pitr.archive_now(PgBackRestHook(), conn)
        window = Window.from_json(steps.window_now())
        production.restore_primary(point, primary.name)
        production.verify_node(nodes.node(primary.name))
        for action in application.resume_writes(cluster, replicas):
            evidence.change("application", action, applied=True)
        evidence.metric("rto_seconds", _since_run_start())
        evidence.metric("rpo_seconds", pitr.rpo_seconds(point, window))
        evidence.measure("cut-over seconds", round(time.time() - began, 2), "pass")
        return {"primary": primary.name}

    @runbook_step(retries=1)
    def rebuild_replica(done: dict[str, Any]) -> list[str]:
        """Rebuild the other nodes from the restored primary (new timeline)."""
        return production.rebuild_replicas(done["primary"])

    @runbook_step(trigger_rule=TriggerRule.ALL_DONE, retries=2)
    def teardown_scratch(params: dict[str, Any]) -> list[str]:
        """Remove the side-by-side copy however the run ended."""
        return steps.teardown(params["dry_run"])

    found = detect()
    plan = find_corruption_time(found)
    prepared = prepare_scratch(plan)
    restored = restore_side_by_side(plan)
    prepared >> restored
    compared = compare_copy(plan, restored)
    compared >> decide
    repaired = repair_rows(plan, compared, restored)
    switched = cut_over(plan)
    decide >> [repaired, switched, aborted()]
    rebuild_replica(switched)
    teardown = teardown_scratch()
    [repaired, switched] >> teardown
    teardown.as_teardown(setups=prepared.operator)  # type: ignore[attr-defined]
