"""Build a runbook DAG from its catalog entry, with the machinery every runbook shares.

Usage in a DAG file::

    with runbook_dag("deployment", checks=(require_image("image"),)) as rb:
        deploy() >> verify()

Inside the ``with`` block a DAG author writes only the runbook's own steps. On exit the frame wires the
shared parts around them: ``validate_params`` first (validation, Slack start message, PagerDuty page for
Critical runbooks), then ``acquire_lock`` for mutating runbooks, the steps, ``release_lock`` as teardown, and
``run_report`` last, which stores the report and fails the run when any step failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import DAG, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.catalog import Runbook, catalog_names, catalog_runbook
from novacron_runbooks.dagkit.docs import render_doc_md
from novacron_runbooks.dagkit.escalation import escalation_deadlines
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.lock import lock_tasks
from novacron_runbooks.dagkit.notify import page, post_slack, run_label
from novacron_runbooks.dagkit.params import ParamCheck, ParamError, build_params, validate_params
from novacron_runbooks.dagkit.report.collect import collect_report
from novacron_runbooks.dagkit.report.render import render_json, render_junit, render_markdown
from novacron_runbooks.dagkit.report.store import write_report

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from airflow.sdk import Param

START_DATE = pendulum.datetime(2025, 11, 12, tz="UTC")
"""The index's last update: a static start date, as Airflow recommends."""
DEFAULT_RETRIES = 2
FRAME_TASKS = ("validate_params", "acquire_lock", "release_lock", "run_report")


def default_args(runbook: Runbook) -> dict[str, Any]:
    return {
        "owner": runbook.owner.team,
        "retries": DEFAULT_RETRIES,
        "retry_delay": timedelta(seconds=20),
    }


def tags(runbook: Runbook) -> list[str]:
    """Tag ``runbook`` for the index's 23 and ``scheduled`` for review/drill jobs, for UI filters."""
    kind = "runbook" if runbook.name in catalog_names() else "scheduled"
    found = [kind, runbook.category, f"risk:{runbook.risk_level}"]
    found += [f"severity:{level}" for level in runbook.severity]
    return found


class RunbookFrame:
    """The DAG of one runbook plus the shared tasks wired around its steps."""

    def __init__(
        self, runbook: Runbook, dag: DAG, declared: Mapping[str, Param], checks: tuple[ParamCheck, ...]
    ):
        self.runbook = runbook
        self.dag = dag
        self.declared = declared
        self.checks = checks
        self.start: Any = None
        self.acquire: Any = None
        self.release: Any = None
        self.report: Any = None

    def __enter__(self) -> RunbookFrame:
        self.dag.__enter__()
        self.start = self._validate_task()
        if self.runbook.mutating:
            self.acquire, self.release = lock_tasks(self.runbook)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self._wire()
        self.dag.__exit__(exc_type, exc, tb)

    def _own_steps(self) -> list[Any]:
        return [t for t in self.dag.tasks if t.task_id not in FRAME_TASKS]

    def _wire(self) -> None:
        steps = self._own_steps()
        head = self.acquire if self.acquire is not None else self.start
        if self.acquire is not None:
            self.start >> self.acquire
        roots = [t for t in steps if not t.upstream_task_ids]
        leaves = [t for t in steps if not t.downstream_task_ids]
        head >> roots
        if self.release is not None:
            (leaves or [self.acquire]) >> self.release
        self.report = self._report_task()
        tail = [self.release] if self.release is not None else (leaves or [self.start])
        tail >> self.report

    def _validate_task(self) -> Any:
        runbook, declared, checks = self.runbook, self.declared, self.checks

        @runbook_step(task_id="validate_params", retries=0)
        def validate_params_task(**context: Any) -> dict[str, Any]:
            conf = context["dag_run"].conf or {}
            unknown = sorted(set(conf) - set(declared))
            if unknown:
                raise ParamError(
                    unknown[0], f"is not a param of this runbook (known: {', '.join(sorted(declared))})"
                )
            values = validate_params(dict(context["params"]), declared, checks)
            evidence = current_evidence()
            mode = "DRY RUN" if values.get("dry_run") else "live"
            reason = values.get("reason") or "no reason given"
            text = f":arrow_forward: {runbook.title} started ({mode}): {run_label(context)}. Reason: {reason}"
            if not post_slack(context, runbook.owner.slack_channel, text):
                evidence.note("Slack start message could not be delivered")
            if runbook.page_pagerduty and not values.get("dry_run"):
                paged = page(context, runbook, f"{runbook.title}: {reason}", details={"params": values})
                evidence.note("PagerDuty paged" if paged else "PagerDuty page could not be delivered")
            evidence.note(f"params valid ({len(values)} checked, {len(checks)} cross-field rules)")
            return values

        return validate_params_task()

    def _report_task(self) -> Any:
        runbook = self.runbook

        @task(task_id="run_report", trigger_rule=TriggerRule.ALL_DONE, retries=1)
        def run_report(**context: Any) -> dict[str, Any]:
            report = collect_report(context, runbook)
            urls = write_report(
                report.dag_id,
                report.run_id,
                {
                    "markdown": render_markdown(report),
                    "junit": render_junit(report),
                    "json": render_json(report),
                },
            )
            failed = [step.task_id for step in report.failed_steps]
            summary = {"outcome": report.outcome, "failed_steps": failed, "reports": urls}
            context["ti"].xcom_push(key="summary", value=summary)
            icon = ":white_check_mark:" if report.succeeded else ":x:"
            detail = f" Failed steps: {', '.join(failed)}." if failed else ""
            post_slack(
                context,
                runbook.owner.slack_channel,
                f"{icon} {runbook.title} {report.outcome}: {run_label(context)}.{detail}",
            )
            if runbook.page_pagerduty and report.succeeded and not report.dry_run:
                page(context, runbook, f"{runbook.title} resolved", action="resolve")
            if not report.succeeded:
                raise AirflowFailException(
                    f"runbook {report.outcome}: {', '.join(failed) or 'objectives missed'}"
                )
            return summary

        return run_report()


def runbook_dag(
    name: str,
    *,
    checks: tuple[ParamCheck, ...] = (),
    extra_params: Mapping[str, Param] | None = None,
    runbook: Runbook | None = None,
    **dag_kwargs: Any,
) -> RunbookFrame:
    """Create the DAG of catalog runbook ``name`` (or of an explicit ``runbook``) inside a frame.

    :param checks: cross-field param rules run by ``validate_params`` before anything changes.
    :param extra_params: params beyond the catalog's (rarely needed; prefer the catalog).
    :param dag_kwargs: overrides for the DAG (``schedule``, ``max_active_runs``, ...).
    """
    runbook = runbook or catalog_runbook(name)
    declared = build_params(runbook, extra_params)
    settings: dict[str, Any] = {
        "dag_id": runbook.dag_id,
        "description": runbook.purpose,
        "doc_md": render_doc_md(runbook),
        "schedule": None,
        "start_date": START_DATE,
        "catchup": False,
        "tags": tags(runbook),
        "default_args": default_args(runbook),
        "params": declared,
        "max_active_runs": 3,
        "deadline": escalation_deadlines(runbook) or None,
    }
    settings.update(dag_kwargs)
    return RunbookFrame(runbook, DAG(**settings), declared, checks)  # noqa: AIR002 (schedule is in settings)
