"""Auto-scaling policies: apply the autoscaler policy kept in the repository after validation and a diff.

::

    diff_policy >> apply_policy >> verify_policy

The policy is ``include/autoscaling/<policy>.yaml`` (min/max replicas, CPU target, scale-up and scale-down
behaviour). ``validate_params`` loads and validates it before anything is read from the cluster: min not above
max, min at or above scale_down's availability floor, a CPU target not over the 70% scale-up point, sane
behaviour windows and rules; an error names the policy's field. ``diff_policy`` compares it with the live
HorizontalPodAutoscaler field by field (nothing differs: nothing to do). A dry run shows that diff only.
``apply_policy`` replaces the autoscaler's spec under its resourceVersion (a concurrent release switching
colours conflicts rather than being overwritten) and ``verify_policy`` waits until the autoscaler reads back
the policy and reports it can scale and read its metrics.

A policy with ``target: active-colour`` is applied to the Deployment the Service selects; the release
runbooks move the autoscaler's scaleTargetRef on every blue/green switch, so the policy follows the colour.
Started by a person from the Airflow UI or REST API after the policy's change is merged.
"""

from __future__ import annotations

from typing import Any

from novacron_runbooks.dagkit.evidence import runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.scaling import auto

with runbook_dag(auto.RUNBOOK.name, checks=(auto.check_policy,), max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def diff_policy(params: dict[str, Any]) -> dict[str, Any]:
        """Diff the repository's policy against the live autoscaler; skip when they match."""
        return auto.diff_policy(params)

    @runbook_step
    def apply_policy(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Write the policy to the live autoscaler; a dry run stops at the diff."""
        auto.apply_policy(plan, bool(params["dry_run"]))

    @runbook_step
    def verify_policy(plan: dict[str, Any]) -> None:
        """Check the autoscaler reads back the policy and can scale."""
        auto.verify_policy(plan)

    plan = diff_policy()
    apply_policy(plan) >> verify_policy(plan)
