"""Scale up: more replicas of the active colour (and a higher autoscaler minimum), in gated steps.

::

    plan_scale_up >> scale_up_in_steps

``plan_scale_up`` checks capacity (the Ready nodes' free CPU, memory and pod slots against one replica's
requests, and the autoscaler's maximum), refuses a target the cluster cannot hold naming ``target_replicas``,
and plans the steps; a target already reached (or, with ``target_replicas`` 0, CPU already under 70%) ends
the run with nothing to do, so a retried or repeated run changes nothing. ``scale_up_in_steps`` raises the
replicas and the autoscaler's minimum by ``step_size``, waits until the step's pods are ready, and gates CPU
and p95 latency: under 70% and 500 ms, or no worse than before the step. A failed gate (or pods that never
become ready) reverts that step and the run ends rolled back. With ``target_replicas`` 0, the incident mode,
steps go on until the busiest pod is under 70% CPU, within the autoscaler's maximum and the nodes' room. A
service still over a ceiling at the end keeps its new pods and the run fails. A dry run reports the plan and
the current readings and changes nothing.

Started by a person (Airflow UI, REST API, ``ci/trigger_runbook.py``), or by an incident runbook as a child
run under its deploy lock (``parent_run``).
"""

from __future__ import annotations

from typing import Any

from novacron_runbooks.dagkit.evidence import runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.scaling import up

with runbook_dag(up.RUNBOOK.name, max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def plan_scale_up(params: dict[str, Any]) -> dict[str, Any]:
        """Check capacity and the target, plan the steps; skip when the target is already reached."""
        return up.plan(params)

    @runbook_step
    def scale_up_in_steps(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Raise replicas step by step, each gated; a retry resumes from the live size."""
        return up.scale(plan, bool(params["dry_run"]))

    scale_up_in_steps(plan_scale_up())
