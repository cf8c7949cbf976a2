"""Check a runbook's gates against its time budget before the run changes anything.

A canary whose analysis cannot abort within the rollback budget (5 minutes in the index) is refused at
``validate_params``, with the computed worst case, instead of discovering it during an incident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.dagkit.params import ParamError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from novacron_runbooks.catalog import Runbook
    from novacron_runbooks.gates.spec import GateSpec


def budget_seconds(runbook: Runbook, threshold: str) -> float:
    """Return a time threshold of the catalog in seconds (its ``unit`` is minutes or seconds)."""
    found = runbook.threshold(threshold)
    factor = {"minutes": 60.0, "seconds": 1.0}.get(found.unit)
    if factor is None:
        raise ValueError(f"threshold {threshold!r} of {runbook.name!r} is in {found.unit}, not a time")
    return found.value * factor


def assert_abort_within(
    gates: Sequence[GateSpec], budget: float, field: str, action_seconds: float = 0.0
) -> float:
    """Raise :class:`ParamError` on ``field`` if a gate's worst-case abort plus the action exceeds the budget.

    Returns the worst case found, for the plan the dry run shows.
    """
    worst = 0.0
    for gate in gates:
        if gate.shadow:
            continue
        total = gate.worst_case_abort_seconds + action_seconds
        if total > budget:
            raise ParamError(
                field,
                f"gate {gate.name!r} can take {total:.0f} s to abort "
                f"(analysis {gate.worst_case_abort_seconds:.0f} s + rollback {action_seconds:.0f} s), "
                f"over the {budget:.0f} s budget: shorten the interval, "
                "lower failure_limit or count",
            )
        worst = max(worst, total)
    return worst
