"""High error rate (Critical): confirm, diagnose, remediate through the matching runbook, verify, escalate.

::

    confirm >> diagnose >> choose_remedy ─┬─> run_rollback ──────────┐
                                          ├─> run_database_issues ───┼─> gate_error_rate
                                          ├─> run_scale_up ──────────┘
                                          └─> no_automatic_remedy

- ``confirm``: the alert's own measure, the whole service's 5xx share over the confirmation window. Under
  1 % ends the run as a false alarm (or an alert already resolved), reported as such; no answer from
  Prometheus is no reason to stand down, so the run goes on to diagnose.
- ``diagnose``: errors by endpoint and code and by release (``version``), the deployment history of the last
  hour, the database (pool usage, ``novacron_db_up``), CPU per pod and the DWCP agents.
- ``choose_remedy``: the RUNBOOKS.md policy. A release of the last hour that serves the errors → ``rollback``;
  database saturation or a lost database → ``database_issues``; CPU saturation → ``scale_up``; nothing clear
  → no automatic remedy, escalated.
- ``run_*``: the remedy as a child run (``parent_run`` hands it this run's deploy lock), waited for.
- ``gate_error_rate``: the service's error share back under 1 %.

Slack, the PagerDuty page (Critical) and the escalation ladder (on-call 0–15 min, team lead 15–30, engineering
manager 30–60, VP beyond) come with every runbook DAG; the run report is the incident timeline. A dry run
diagnoses and names the remedy, and starts nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.incident import diagnosis, steps
from novacron_runbooks.incident.children import child_run
from novacron_runbooks.release.cluster import ReleaseCluster
from novacron_runbooks.release.gates import service_error_gate
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("high_error_rate")
CEILING = float(RUNBOOK.threshold("error_rate").value)
CONFIRM_WINDOW = "2m"
REMEDIES = ("rollback", "database_issues", "scale_up")
RECOVERED = service_error_gate("error_rate", CEILING)


with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def confirm() -> dict[str, Any]:
        """Measure the service's error share now; under the threshold ends the run as a false alarm."""
        return steps.confirm(RECOVERED, "service 5xx share", CONFIRM_WINDOW)

    @runbook_step(retries=1)
    def diagnose(confirmed: dict[str, Any]) -> dict[str, Any]:
        """Errors by endpoint and release, recent deployments, database, CPU and DWCP health."""
        evidence = current_evidence()
        found = diagnosis.read(
            PrometheusHook(), ReleaseHistory(ReleaseCluster()), RUNBOOK, window=CONFIRM_WINDOW
        )
        for name, value in found.measures().items():
            evidence.measure(name, value, "pass")
        return found.to_dict()

    @runbook_step
    def choose_remedy_plan(found: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Apply the policy to the diagnosis; a dry run names the remedy and starts nothing."""
        remedy, why = diagnosis.choose(diagnosis.Diagnosis.from_dict(found), RUNBOOK)
        return steps.plan(remedy, why, bool(params["dry_run"]))

    @task.branch(task_id="choose_remedy")
    def choose_remedy(plan: dict[str, Any]) -> str:
        return steps.branch(plan, REMEDIES)

    @runbook_step
    def no_automatic_remedy(plan: dict[str, Any]) -> None:
        """Hand over to people: no remedy applies (the ladder keeps escalating)."""
        steps.hand_over(plan)

    plan = choose_remedy_plan(diagnose(confirm()))
    branch = choose_remedy(plan)
    children = [child_run(RUNBOOK.name, remedy, "choose_remedy_plan") for remedy in REMEDIES]
    manual = no_automatic_remedy(plan)
    branch >> [*children, manual]
    gate = steps.verify_gate("gate_error_rate", RECOVERED, RUNBOOK.owner.slack_channel)
    children >> gate
