"""Service down (Critical): confirm the outage, find what is left, roll back, restart or rebuild, verify.

::

    confirm >> diagnose >> choose_remedy ─┬─> run_rollback ───────────┐
                                          ├─> run_dr_service_failure ─┼─> gate_service
                                          ├─> restart_api ────────────┘
                                          └─> no_automatic_remedy

- ``confirm``: three calls to the API's health endpoint through the ``novacron_api`` connection; any answer
  under 500 ends the run as a false alarm (or an outage already over), reported as such.
- ``diagnose``: the Service, both colour Deployments, the API pods (ready, restarts, CrashLoopBackOff,
  ImagePullBackOff, pending) and the releases of the last hour.
- ``choose_remedy``: the policy of RUNBOOKS.md (``incident.outage``): the whole service lost →
  ``dr_service_failure``; a recent release whose pods are stuck → ``rollback``; stuck pods without one → a
  rollout restart of the live colour; pods ready yet no answer → people.
- ``gate_service``: the service's 5xx share under 1 % again.

Slack, the PagerDuty page and the escalation ladder come with every runbook DAG; the run report is the
incident timeline. A dry run diagnoses and names the remedy, and starts or restarts nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.incident import outage, steps
from novacron_runbooks.incident.children import child_run
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment
from novacron_runbooks.release.gates import service_error_gate
from novacron_runbooks.release.history import ReleaseHistory

RUNBOOK = catalog_runbook("service_down")
CEILING = float(catalog_runbook("high_error_rate").threshold("error_rate").value)
CHILDREN = ("rollback", "dr_service_failure")
RESTART_TIMEOUT_SECONDS = 240
SERVING = service_error_gate("service", CEILING)

with runbook_dag(RUNBOOK.name, max_active_runs=1):

    @runbook_step(retries=1)
    def confirm() -> list[str]:
        """Call the health endpoint three times; any answer under 500 means the service is up."""
        evidence = current_evidence()
        answers = outage.probe()
        up = any(a.isdigit() and int(a) < 500 for a in answers)
        evidence.measure(f"GET {outage.HEALTH_PATH} ×{len(answers)}", answers, "pass" if up else "fail")
        if up:
            evidence.verdict = "false alarm"
            raise AirflowSkipException(
                f"the API answers ({answers}): a false alarm or an outage already over"
            )
        return answers

    @runbook_step(retries=1)
    def diagnose(answers: list[str]) -> dict[str, Any]:
        """Read the Service, the colour Deployments, the API pods and the releases of the last hour."""
        evidence = current_evidence()
        cluster = ReleaseCluster()
        found = outage.read(cluster, ReleaseHistory(cluster), RUNBOOK)
        evidence.measure("Service selects", found.service_colour, "pass" if found.service_colour else "fail")
        evidence.measure("API Deployments", found.deployments, "pass" if found.deployments else "fail")
        evidence.measure("API pods", found.pods, "pass")
        evidence.measure("releases of the last hour", found.recent_releases, "pass")
        return found.to_dict()

    @runbook_step
    def choose_remedy_plan(found: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Apply the policy; a dry run names the remedy and changes nothing."""
        situation = outage.Outage.from_dict(found)
        remedy, why = outage.choose(situation)
        return steps.plan(remedy, why, bool(params["dry_run"]), colour=situation.service_colour)

    @task.branch(task_id="choose_remedy")
    def choose_remedy(plan: dict[str, Any]) -> str:
        return steps.branch(plan, CHILDREN, local={"restart": "restart_api"})

    @runbook_step
    def restart_api(plan: dict[str, Any]) -> str:
        """Restart the live colour's pods (``kubectl rollout restart``) and wait until they are ready."""
        deployment = colour_deployment(plan["colour"])
        outage.restart(ReleaseCluster(), deployment, RESTART_TIMEOUT_SECONDS)
        current_evidence().change(deployment, "rollout restart", applied=True)
        return deployment

    @runbook_step
    def no_automatic_remedy(plan: dict[str, Any]) -> None:
        """Hand over to people: no remedy applies (the ladder keeps escalating while the run is open)."""
        steps.hand_over(plan)

    plan = choose_remedy_plan(diagnose(confirm()))
    branch = choose_remedy(plan)
    remedies = [
        *(child_run(RUNBOOK.name, child, "choose_remedy_plan") for child in CHILDREN),
        restart_api(plan),
    ]
    branch >> [*remedies, no_automatic_remedy(plan)]
    gate = steps.verify_gate("gate_service", SERVING, RUNBOOK.owner.slack_channel)
    remedies >> gate
