"""Scale down: fewer replicas of the active colour in gated steps, never below the availability floor.

::

    plan_scale_down >> scale_down_in_steps

``validate_params`` refuses a ``target_replicas`` under the availability floor (the catalog threshold
``availability_floor``, 3 replicas) before anything is read. ``plan_scale_down`` refuses a target above what
runs and plans steps of ``step_size``; the target already reached ends the run with nothing to do.
``scale_down_in_steps`` lowers the autoscaler's minimum and the replicas together (the minimum first, or the
autoscaler would put the pods back), waits for the Deployment to settle, then gates the step for
``gate_seconds`` (2 minutes by default): error ratio under 1%, p95 latency under 500 ms and the busiest pod
under 60% CPU (headroom under scale_up's 70%), every measurement over a window of four scrapes. A
failed gate puts the last step's replicas back and the run ends rolled back. A dry run reports the plan and
the current readings and changes nothing. Started by a person from the Airflow UI or REST API.
"""

from __future__ import annotations

from typing import Any

from novacron_runbooks.dagkit.evidence import runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.scaling import down

with runbook_dag(down.RUNBOOK.name, checks=(down.check_floor,), max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def plan_scale_down(params: dict[str, Any]) -> dict[str, Any]:
        """Plan the steps down, refusing a target below the floor or above what runs."""
        return down.plan(params)

    @runbook_step
    def scale_down_in_steps(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Remove replicas step by step with a gate between steps; a retry resumes from the live size."""
        return down.scale(plan, bool(params["dry_run"]))

    scale_down_in_steps(plan_scale_down())
