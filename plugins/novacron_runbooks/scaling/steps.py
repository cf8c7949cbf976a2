"""Walk the API through planned sizes: apply a step, wait until its pods are ready, gate it, go on or revert.

A step whose pods do not become ready, or whose gate fails, is reverted to the size before it (the size every
earlier gate accepted) and the walk stops; the step's evidence carries the ``rollback`` verdict, so the run
report says the run was rolled back and the run fails. A retried task starts from the live size, so a step
already applied is not applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release import actions
from novacron_runbooks.scaling.analysis import judge_step

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.gates.spec import GateSpec
    from novacron_runbooks.scaling.cluster import ScalingCluster, Size


@dataclass
class Walk:
    """One scaling run's steps and how to judge them.

    :param gates: called before each step (it may read the metrics the step is compared with).
    :param done: called after a good step; True ends the walk early (the service is healthy enough).
    """

    cluster: ScalingCluster
    deployment: str
    start: Size
    sizes: list[Size]
    gates: Callable[[Size], list[GateSpec]]
    channel: str
    ready_timeout: float = 300.0
    done: Callable[[Size], bool] | None = None
    reached: list[Size] = field(default_factory=list)

    def resume_at(self) -> int:
        """Index of the first step to apply: a retried task goes on from the step the live size shows."""
        live = self.cluster.size(self.deployment).replicas
        found = [i for i, size in enumerate(self.sizes) if size.replicas == live]
        if found and found[0] > 0:
            current_evidence().note(f"resuming at step {found[0] + 1}: {live} replicas already run")
        return found[0] if found else 0

    def run(self) -> dict[str, Any]:
        """Apply the steps in order; return what was reached and whether a step was reverted."""
        first = self.resume_at()
        for index in range(first, len(self.sizes)):
            size = self.sizes[index]
            label = f"step {index + 1}/{len(self.sizes)} ({size.describe()})"
            before = self.sizes[index - 1] if index > 0 else self.start
            gates = self.gates(size)
            problem = self._apply(size, label)
            if problem is None:
                action, why = judge_step(gates, label, self.channel)
                problem = None if action == "proceed" else f"gate: {why}"
            if problem is not None:
                self._revert(before, label, problem)
                return self._result(reverted=label, why=problem)
            self.reached.append(size)
            if self.done is not None and self.done(size):
                current_evidence().note(f"{label}: the service is back under its ceilings; stopping here")
                break
        return self._result()

    def _apply(self, size: Size, label: str) -> str | None:
        """Resize and wait for the pods; return why the step cannot stand, or None."""
        evidence = current_evidence()
        current = self.cluster.size(self.deployment)
        evidence.change(self.deployment, f"{label}: {current.describe()} → {size.describe()}", applied=True)
        self.cluster.resize(self.deployment, size)
        try:
            actions.wait_ready(self.cluster.release, self.deployment, self.ready_timeout, dry_run=False)
        except AirflowFailException as exc:
            return f"pods not ready: {exc}"
        return None

    def _revert(self, before: Size, label: str, why: str) -> None:
        """Put the size every earlier gate accepted back, wait for it, and mark the run rolled back."""
        evidence = current_evidence()
        evidence.note(f"{label} failed ({why}); reverting to {before.describe()}")
        evidence.change(self.deployment, f"revert {label} to {before.describe()}", applied=True)
        self.cluster.resize(self.deployment, before)
        actions.wait_ready(self.cluster.release, self.deployment, self.ready_timeout, dry_run=False)
        evidence.verdict = "rollback"

    def _result(self, reverted: str | None = None, why: str | None = None) -> dict[str, Any]:
        final = self.cluster.size(self.deployment)
        current_evidence().metric("replicas_after", final.replicas)
        return {
            "deployment": self.deployment,
            "replicas": final.replicas,
            "hpa_min": final.hpa_min,
            "steps_done": len(self.reached),
            "reverted": reverted,
            "why": why,
        }


def plan_only(cluster: ScalingCluster, deployment: str, sizes: list[Size], readings: list[GateSpec]) -> None:
    """Dry run: record every step as a change not applied and one reading of each gate's metric now."""
    evidence = current_evidence()
    current = cluster.size(deployment)
    for number, size in enumerate(sizes, start=1):
        evidence.change(
            deployment, f"step {number}/{len(sizes)}: {current.describe()} → {size.describe()}", applied=False
        )
        current = size
    for spec in readings:
        result = measure(spec, PrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds))
        evidence.measure(spec.name, result.value, result.verdict, result.query, reason=result.reason)
    evidence.note(f"dry run: {len(sizes)} step(s) planned, nothing changed")
