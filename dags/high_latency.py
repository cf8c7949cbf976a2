"""High latency (Warning): confirm the p95, find where the time goes, remedy through the matching runbook.

::

    confirm >> diagnose >> choose_remedy ─┬─> run_database_issues ─┬─> gate_latency
                                          ├─> run_scale_up ────────┘
                                          └─> no_automatic_remedy

- ``confirm``: the whole service's request p95 over the confirmation window; under 500 ms ends the run as a
  false alarm (or an alert already resolved). No answer from Prometheus is no reason to stand down.
- ``diagnose``: the database's query p95 and pool, CPU per pod, the slowest endpoints.
- ``choose_remedy``: the policy of RUNBOOKS.md (``incident.latency``): the database → ``database_issues`` as a
  child run; CPU saturation → ``scale_up`` as a child run (replicas added in steps until CPU is under 70 %);
  otherwise people.
- ``gate_latency``: the service's p95 under 500 ms again.

A Warning: Slack, no page; the escalation ladder and the incident timeline come with every runbook DAG. A
dry run diagnoses and names the remedy, and starts nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.incident import latency, steps
from novacron_runbooks.incident.children import child_run

RUNBOOK = catalog_runbook("high_latency")
CEILING = float(RUNBOOK.threshold("latency_p95").value)
CONFIRM_WINDOW = "2m"
CHILDREN = ("database_issues", "scale_up")
FAST = latency.latency_gate("latency", CEILING)

with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def confirm() -> dict[str, Any]:
        """Measure the service's p95 now; under the threshold ends the run as a false alarm."""
        return steps.confirm(FAST, "service request p95 seconds", CONFIRM_WINDOW)

    @runbook_step(retries=1)
    def diagnose(confirmed: dict[str, Any]) -> dict[str, Any]:
        """Read the database's part, the pool, CPU and the slowest endpoints."""
        evidence = current_evidence()
        found = latency.read(PrometheusHook(), CONFIRM_WINDOW)
        for name, value in found.to_dict().items():
            evidence.measure(name.replace("_", " "), value, "pass")
        return found.to_dict()

    @runbook_step
    def choose_remedy_plan(found: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Apply the policy; a dry run names the remedy and starts nothing."""
        remedy, why = latency.choose(latency.Slowness.from_dict(found), RUNBOOK)
        return steps.plan(remedy, why, bool(params["dry_run"]))

    @task.branch(task_id="choose_remedy")
    def choose_remedy(plan: dict[str, Any]) -> str:
        return steps.branch(plan, CHILDREN)

    @runbook_step
    def no_automatic_remedy(plan: dict[str, Any]) -> None:
        """Hand over to people: no remedy applies (the ladder keeps escalating)."""
        steps.hand_over(plan)

    plan = choose_remedy_plan(diagnose(confirm()))
    branch = choose_remedy(plan)
    children = [child_run(RUNBOOK.name, child, "choose_remedy_plan") for child in CHILDREN]
    branch >> [*children, no_automatic_remedy(plan)]
    gate = steps.verify_gate("gate_latency", FAST, RUNBOOK.owner.slack_channel)
    children >> gate
